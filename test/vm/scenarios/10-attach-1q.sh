#!/usr/bin/env bash
# vm-timeout: 180
# vduse-blk serve, 1 queue, a serial: the kernel's virtio_blk disk has the
# right size, block size, serial, one hardware queue and is writable; O_DIRECT
# writes land in the backing file; SIGTERM detaches and destroys the device.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../product.sh"

NAME=vblk10
IMG="$VM_WORK_DIR/disk.img"
SIZE_MIB=256
SERIAL=SN-vm10-abc

assert_eq 0 "$(vdpa_list | wc -l)" "vdpa devices before the test"
make_image "$IMG" "${SIZE_MIB}M"

serve_start srv "$NAME" "$IMG" --queues 1 --serial "$SERIAL"
DEV="$SERVE_DEV"
[ -e "/dev/vduse/$NAME" ] || fail "/dev/vduse/$NAME missing while serving"
assert_eq virtio_vdpa "$(basename "$(readlink "/sys/bus/vdpa/devices/$NAME/driver")")" "vdpa bus driver"

assert_eq $((SIZE_MIB * 1024 * 1024 / 512)) "$(sysfs_block_attr "$DEV" size)" "sectors of $DEV"
assert_eq 512 "$(sysfs_block_attr "$DEV" queue/logical_block_size)" "logical block size"
assert_eq "$SERIAL" "$(sysfs_block_attr "$DEV" serial)" "serial"
assert_eq 1 "$(sysfs_block_attr "$DEV" mq | wc -l)" "entries in mq/"
assert_eq 0 "$(sysfs_block_attr "$DEV" ro)" "read-only flag"
assert_eq $((SIZE_MIB * 1024 * 1024)) "$(blockdev --getsize64 "$DEV")" "blockdev --getsize64"

# 8 MiB of random data at 16 MiB with O_DIRECT, read back with O_DIRECT, and
# the same bytes in the backing file (guest tmpfs, read directly).
dd if=/dev/urandom of="$VM_WORK_DIR/pattern" bs=1M count=8 status=none
want="$(sha_of "$VM_WORK_DIR/pattern")"
dd if="$VM_WORK_DIR/pattern" of="$DEV" bs=1M seek=16 oflag=direct status=none
assert_eq "$want" "$(sha_of "$DEV" 16 8)" "data read back from $DEV"
assert_eq "$want" "$(sha_of "$IMG" 16 8)" "data in the backing file"
# Small unaligned-in-MiB writes too: 3 x 4 KiB at the very end of the disk.
dd if=/dev/urandom of="$VM_WORK_DIR/tail" bs=4k count=3 status=none
dd if="$VM_WORK_DIR/tail" of="$DEV" bs=4k seek=$((SIZE_MIB * 256 - 3)) oflag=direct status=none
assert_eq "$(sha256sum <"$VM_WORK_DIR/tail" | cut -d' ' -f1)" \
  "$(dd if="$DEV" bs=4k skip=$((SIZE_MIB * 256 - 3)) count=3 iflag=direct status=none | sha256sum | cut -d' ' -f1)" \
  "last 12 KiB read back"
assert_eq "$(sha256sum <"$VM_WORK_DIR/tail" | cut -d' ' -f1)" \
  "$(dd if="$IMG" bs=4k skip=$((SIZE_MIB * 256 - 3)) count=3 status=none | sha256sum | cut -d' ' -f1)" \
  "last 12 KiB in the backing file"
# Untouched ranges stay zero.
assert_eq "$(zeros_sha 8)" "$(sha_of "$DEV" 0 8)" "untouched range on the disk"
assert_eq "$(zeros_sha 8)" "$(sha_of "$IMG" 0 8)" "untouched range in the file"
# Reading at the end gives nothing.
assert_eq 0 "$(dd if="$DEV" bs=4k skip=$((SIZE_MIB * 256)) count=1 iflag=direct status=none | wc -c)" "bytes read at the end"
log "O_DIRECT write/read-back verified"

serve_stop srv "$NAME" TERM 60
[ ! -e "$DEV" ] || fail "$DEV still exists after the server stopped"
assert_eq "" "$(vduse_list)" "VDUSE devices left"
# The data survives the server.
assert_eq "$want" "$(sha_of "$IMG" 16 8)" "backing file after shutdown"
log "attach-1q OK"
