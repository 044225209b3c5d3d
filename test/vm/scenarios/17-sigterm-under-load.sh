#!/usr/bin/env bash
# vm-timeout: 300
# SIGTERM while fio hammers the disk: the server detaches (the driver flushes
# and resets through it), stops and destroys its device and exits 0; fio
# sees its disk go away. Then SIGTERM while idle, and SIGTERM after someone
# else already detached the device with `vdpa dev del`.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../product.sh"

NAME=vblk17
IMG="$VM_WORK_DIR/disk.img"
make_image "$IMG" 256M

# 1. Under load.
serve_start srv "$NAME" "$IMG" --queues 2
DEV="$SERVE_DEV"
start_bg fio fio --name=load --filename="$DEV" --ioengine=libaio --direct=1 --rw=randrw --bs=4k \
  --iodepth=32 --numjobs=2 --size=64M --offset_increment=64M --time_based --runtime=120 \
  --output="$VM_LOG_DIR/fio-out.txt"
sleep 6
bg_alive fio || { cat "$VM_LOG_DIR/fio-out.txt"; fail "fio is not running"; }
ios0="$(awk '{print $1 + $5}' "/sys/block/$(basename "$DEV")/stat")"
sleep 2
ios1="$(awk '{print $1 + $5}' "/sys/block/$(basename "$DEV")/stat")"
log "I/Os completed in 2 s before SIGTERM: $((ios1 - ios0))"
[ "$ios1" -gt "$ios0" ] || fail "no I/O in flight before SIGTERM"
t0=$SECONDS
serve_stop srv "$NAME" TERM 90
log "server stopped under load in $((SECONDS - t0)) s"
rc=0; wait_bg fio 60 || rc=$?
log "fio exited with status $rc once its disk was gone"
[ ! -e "$DEV" ] || fail "$DEV still exists"
assert_eq "" "$(vduse_list)" "VDUSE devices left"

# 2. Idle.
serve_start srv2 "$NAME" "$IMG"
serve_stop srv2 "$NAME" TERM 60

# 3. SIGINT works the same.
serve_start srv3 "$NAME" "$IMG"
serve_stop srv3 "$NAME" INT 60

# 4. Detached from outside first (vdpa dev del), then SIGTERM.
serve_start srv4 "$NAME" "$IMG"
vdpa_detach "$NAME"
wait_for_log srv4 '"msg":"device reset"' 30
bg_alive srv4 || fail "server died when its device was detached from outside"
serve_stop srv4 "$NAME" TERM 60
assert_eq "" "$(vduse_list)" "VDUSE devices left"
log "sigterm OK"
