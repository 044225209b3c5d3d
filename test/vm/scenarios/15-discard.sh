#!/usr/bin/env bash
# vm-timeout: 200
# Discard: the disk offers it (discard_max_bytes > 0), blkdiscard punches
# the data out of the backing file (du shrinks) and the range reads zeros.
# With --no-discard the disk offers none and blkdiscard fails.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../product.sh"

NAME=vblk15
IMG="$VM_WORK_DIR/disk.img"
make_image "$IMG" 256M

serve_start srv "$NAME" "$IMG"
DEV="$SERVE_DEV"
dmax="$(sysfs_block_attr "$DEV" queue/discard_max_bytes)"
log "discard_max_bytes=$dmax discard_granularity=$(sysfs_block_attr "$DEV" queue/discard_granularity)"
[ "$dmax" -gt 0 ] || fail "discard not offered (discard_max_bytes=$dmax)"

du0="$(du -k "$IMG" | cut -f1)"
dd if=/dev/urandom of="$DEV" bs=1M count=64 seek=32 oflag=direct status=none
sync
du1="$(du -k "$IMG" | cut -f1)"
log "du of the backing file: empty ${du0} KiB, after 64 MiB written ${du1} KiB"
[ "$du1" -ge $((du0 + 60 * 1024)) ] || fail "backing file did not grow by ~64 MiB (${du0} -> ${du1} KiB)"

blkdiscard "$DEV"
sync
du2="$(du -k "$IMG" | cut -f1)"
log "du after blkdiscard: ${du2} KiB"
[ "$du2" -le $((du0 + 1024)) ] || fail "backing file did not shrink after blkdiscard (${du1} -> ${du2} KiB)"
assert_eq "$(zeros_sha 64)" "$(sha_of "$DEV" 32 64)" "discarded range read from the disk"
assert_eq "$(zeros_sha 64)" "$(sha_of "$IMG" 32 64)" "discarded range in the file"

# A partial discard: write 16 MiB, discard its middle 8 MiB.
dd if=/dev/urandom of="$VM_WORK_DIR/p" bs=1M count=16 status=none
dd if="$VM_WORK_DIR/p" of="$DEV" bs=1M seek=100 oflag=direct status=none
blkdiscard -o $((104 * 1024 * 1024)) -l $((8 * 1024 * 1024)) "$DEV"
assert_eq "$(sha_of "$VM_WORK_DIR/p" 0 4)" "$(sha_of "$DEV" 100 4)" "data before the discarded range"
assert_eq "$(zeros_sha 8)" "$(sha_of "$DEV" 104 8)" "discarded middle"
assert_eq "$(sha_of "$VM_WORK_DIR/p" 12 4)" "$(sha_of "$DEV" 112 4)" "data after the discarded range"
serve_stop srv "$NAME"

# --no-discard: nothing offered, blkdiscard refused, data untouched.
serve_start srv2 "$NAME" "$IMG" --no-discard
DEV="$SERVE_DEV"
assert_eq 0 "$(sysfs_block_attr "$DEV" queue/discard_max_bytes)" "discard_max_bytes with --no-discard"
expect_fail blkdiscard -o $((100 * 1024 * 1024)) -l $((4 * 1024 * 1024)) "$DEV" 2>/dev/null
assert_eq "$(sha_of "$VM_WORK_DIR/p" 0 4)" "$(sha_of "$DEV" 100 4)" "data after a refused discard"
serve_stop srv2 "$NAME"
log "discard OK"
