#!/usr/bin/env bash
# vm-timeout: 150
# --readonly: the disk is read-only in the guest (ro 1), reads return the
# file's data, writes fail, and the backing file is unchanged.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../product.sh"

NAME=vblk12
IMG="$VM_WORK_DIR/disk.img"
make_image "$IMG" 64M
dd if=/dev/urandom of="$IMG" bs=1M count=64 conv=notrunc status=none
before="$(sha_of "$IMG")"

serve_start srv "$NAME" "$IMG" --readonly
DEV="$SERVE_DEV"
assert_eq 1 "$(sysfs_block_attr "$DEV" ro)" "read-only flag"
assert_eq 1 "$(blockdev --getro "$DEV")" "blockdev --getro"
assert_eq "$before" "$(sha_of "$DEV")" "whole disk read back vs the file"

expect_fail dd if=/dev/zero of="$DEV" bs=4k count=1 oflag=direct conv=notrunc status=none
expect_fail dd if=/dev/zero of="$DEV" bs=1M count=1 seek=8 conv=notrunc,fsync status=none
expect_fail blkdiscard "$DEV"
sync
assert_eq "$before" "$(sha_of "$IMG")" "backing file after the write attempts"
bg_alive srv || fail "server died"

serve_stop srv "$NAME"
assert_eq "$before" "$(sha_of "$IMG")" "backing file after shutdown"
log "readonly OK"
