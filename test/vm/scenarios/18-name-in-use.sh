#!/usr/bin/env bash
# vm-timeout: 150
# A second server asking for a name that is in use fails fast, says which
# device, exits non-zero and leaves the first one serving.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../product.sh"

NAME=vblk18
IMG="$VM_WORK_DIR/disk.img"
IMG2="$VM_WORK_DIR/disk2.img"
make_image "$IMG" 64M
make_image "$IMG2" 64M

serve_start srv "$NAME" "$IMG"
DEV="$SERVE_DEV"

t0=$SECONDS
rc=0
with_timeout 30 "$(node_bin)" "$(product_cli)" serve --name "$NAME" --file "$IMG2" \
  >"$VM_LOG_DIR/second.out" 2>"$VM_LOG_DIR/second.err" || rc=$?
log "second server: exit $rc after $((SECONDS - t0)) s: $(cat "$VM_LOG_DIR/second.err")"
[ "$rc" != 0 ] || fail "second server with the same name exited 0"
[ "$rc" != 124 ] || fail "second server hung"
[ $((SECONDS - t0)) -le 15 ] || fail "second server took $((SECONDS - t0)) s to fail"
grep -q "$NAME" "$VM_LOG_DIR/second.err" || fail "error message does not name $NAME"
grep -qi "exist\|in use\|busy" "$VM_LOG_DIR/second.err" || fail "error message does not say the name is taken"
grep -q '"msg":"device created"' "$VM_LOG_DIR/second.err" && fail "second server claims it created the device"

# The first server is untouched and still serves I/O.
bg_alive srv || fail "first server died"
[ -e "/dev/vduse/$NAME" ] || fail "/dev/vduse/$NAME is gone"
assert_eq "$DEV" "$(block_of "$NAME")" "first server's disk"
dd if=/dev/urandom of="$VM_WORK_DIR/p" bs=1M count=4 status=none
dd if="$VM_WORK_DIR/p" of="$DEV" bs=1M seek=8 oflag=direct status=none
assert_eq "$(sha_of "$VM_WORK_DIR/p")" "$(sha_of "$DEV" 8 4)" "I/O on the first server's disk"
assert_eq "$(sha_of "$VM_WORK_DIR/p")" "$(sha_of "$IMG" 8 4)" "first server's backing file"
assert_eq "$(zeros_sha 64)" "$(sha_of "$IMG2")" "second server's file untouched"

serve_stop srv "$NAME"
log "name-in-use OK"
