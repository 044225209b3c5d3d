#!/usr/bin/env bash
# vm-timeout: 240
# fio: libaio, O_DIRECT, random writes with crc32c verification, 2 jobs at
# iodepth 16 each, on a 2-queue disk; every block verified, no errors.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../product.sh"

NAME=vblk14
IMG="$VM_WORK_DIR/disk.img"
make_image "$IMG" 256M

serve_start srv "$NAME" "$IMG" --queues 2
DEV="$SERVE_DEV"
assert_eq 2 "$(sysfs_block_attr "$DEV" mq | wc -l)" "entries in mq/"

rc=0
with_timeout 150 fio --name=verify --filename="$DEV" --ioengine=libaio --direct=1 --rw=randwrite \
  --bs=4k --bsrange=4k-64k --iodepth=16 --numjobs=2 --size=24M --offset_increment=64M \
  --verify=crc32c --do_verify=1 --verify_fatal=1 --verify_backlog=512 \
  --group_reporting=0 --output="$VM_LOG_DIR/fio.txt" || rc=$?
cat "$VM_LOG_DIR/fio.txt" >&2
assert_eq 0 "$rc" "fio exit status"
assert_eq 2 "$(grep -c 'err= 0' "$VM_LOG_DIR/fio.txt")" "fio jobs without errors"
# Every block written was read back and verified (issued rwts: reads = writes).
grep -E 'issued rwts: total=' "$VM_LOG_DIR/fio.txt" | while read -r line; do
  r="$(sed -n 's/.*total=\([0-9]*\),\([0-9]*\),.*/\1/p' <<<"$line")"; w="$(sed -n 's/.*total=\([0-9]*\),\([0-9]*\),.*/\2/p' <<<"$line")"
  [ "$w" -gt 0 ] && [ "$r" = "$w" ] || fail "fio did not verify every write: $line"
done
bg_alive srv || fail "server died during fio"
# What fio verified through the disk is what the backing file holds.
for off in 0 64; do
  assert_eq "$(sha_of "$DEV" $off 24)" "$(sha_of "$IMG" $off 24)" "disk vs backing file at $off MiB"
done
log "fio: $(grep -Eo 'IOPS=[^,]*' "$VM_LOG_DIR/fio.txt" | tr '\n' ' ')"

serve_stop srv "$NAME"
log "fio-verify OK"
