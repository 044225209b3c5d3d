#!/usr/bin/env bash
# vm-timeout: 200
# Unbinding virtio_vdpa from the vDPA device while the server runs removes
# the disk and resets the device; binding it again probes it afresh (new
# feature negotiation, new queues) and I/O works, with the data written
# before still there. Twice, to catch state left over from the first reset.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../product.sh"

NAME=vblk16
IMG="$VM_WORK_DIR/disk.img"
DRV=/sys/bus/vdpa/drivers/virtio_vdpa
make_image "$IMG" 128M

serve_start srv "$NAME" "$IMG" --queues 2
DEV="$SERVE_DEV"
dd if=/dev/urandom of="$VM_WORK_DIR/p0" bs=1M count=4 status=none
dd if="$VM_WORK_DIR/p0" of="$DEV" bs=1M seek=4 oflag=direct status=none

for round in 1 2; do
  resets="$(grep -c '"msg":"device reset"' "$(bg_log srv)")"
  echo "$NAME" >"$DRV/unbind"
  wait_for_path_gone "$DEV" 30
  [ ! -e "/sys/bus/vdpa/devices/$NAME/driver" ] || fail "still bound after unbind"
  wait_until 30 "a device reset in the server log" \
    test "$(grep -c '"msg":"device reset"' "$(bg_log srv)")" -gt "$resets"
  bg_alive srv || fail "server died on unbind (round $round)"
  log "round $round: unbound, device reset"

  readies="$(grep -c '"msg":"driver ready"' "$(bg_log srv)")"
  echo "$NAME" >"$DRV/bind"
  DEV="$(wait_for_block "$NAME" 60)"
  wait_until 30 "driver ready again" test "$(grep -c '"msg":"driver ready"' "$(bg_log srv)")" -gt "$readies"
  log "round $round: bound again as $DEV"
  assert_eq 2 "$(sysfs_block_attr "$DEV" mq | wc -l)" "mq entries after rebind"

  assert_eq "$(sha_of "$VM_WORK_DIR/p0")" "$(sha_of "$DEV" 4 4)" "data written before the unbind (round $round)"
  dd if=/dev/urandom of="$VM_WORK_DIR/p$round" bs=1M count=4 status=none
  dd if="$VM_WORK_DIR/p$round" of="$DEV" bs=1M seek=$((8 * round + 4)) oflag=direct status=none
  assert_eq "$(sha_of "$VM_WORK_DIR/p$round")" "$(sha_of "$DEV" $((8 * round + 4)) 4)" "new data on $DEV (round $round)"
  assert_eq "$(sha_of "$VM_WORK_DIR/p$round")" "$(sha_of "$IMG" $((8 * round + 4)) 4)" "new data in the file (round $round)"
  fio --name=rb --filename="$DEV" --ioengine=libaio --direct=1 --rw=randrw --bs=4k --iodepth=8 \
    --size=4M --offset=64M --verify=crc32c --do_verify=1 --verify_fatal=1 --output="$VM_LOG_DIR/fio$round.txt" \
    || { cat "$VM_LOG_DIR/fio$round.txt"; fail "fio after rebind (round $round)"; }
done

serve_stop srv "$NAME"
log "driver-reset OK"
