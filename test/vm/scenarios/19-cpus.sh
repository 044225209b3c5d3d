#!/usr/bin/env bash
# vm-timeout: 150
# --queues 2 --cpus 0,1: the worker threads vduse-q0 and vduse-q1 are pinned
# to CPU 0 and CPU 1, and both serve I/O.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../product.sh"

NAME=vblk19
IMG="$VM_WORK_DIR/disk.img"
make_image "$IMG" 64M
[ "$(nproc)" -ge 2 ] || fail "needs 2 CPUs"

serve_start srv "$NAME" "$IMG" --queues 2 --cpus 0,1
DEV="$SERVE_DEV"
PID="$(bg_pid srv)"
wait_until 30 "both queue workers" test "$(grep -c '"msg":"queue worker started"' "$(bg_log srv)")" -ge 2

tid_of() {
  local t
  for t in /proc/"$PID"/task/*; do
    [ "$(cat "$t/comm" 2>/dev/null)" = "$1" ] && { basename "$t"; return 0; }
  done
  return 1
}
for q in 0 1; do
  tid="$(tid_of "vduse-q$q")" || { for t in /proc/"$PID"/task/*; do echo "$(basename "$t") $(cat "$t/comm")"; done >&2
    fail "no thread named vduse-q$q in server $PID"; }
  cpus="$(awk '/^Cpus_allowed_list/ {print $2}' "/proc/$PID/task/$tid/status")"
  log "vduse-q$q: tid $tid, Cpus_allowed_list $cpus"
  assert_eq "$q" "$cpus" "Cpus_allowed_list of vduse-q$q"
done
# The main thread is not pinned.
assert_eq "0-1" "$(awk '/^Cpus_allowed_list/ {print $2}' "/proc/$PID/status")" "main thread's CPUs"

for cpu in 0 1; do
  dd if=/dev/urandom of="$VM_WORK_DIR/p$cpu" bs=1M count=2 status=none
  taskset -c "$cpu" dd if="$VM_WORK_DIR/p$cpu" of="$DEV" bs=4k seek=$((cpu * 1024 + 1024)) oflag=direct status=none
  assert_eq "$(sha_of "$VM_WORK_DIR/p$cpu")" "$(sha_of "$IMG" $((cpu * 4 + 4)) 2)" "data written from cpu $cpu"
done
# Still pinned after the I/O.
for q in 0 1; do
  assert_eq "$q" "$(awk '/^Cpus_allowed_list/ {print $2}' "/proc/$PID/task/$(tid_of "vduse-q$q")/status")" "vduse-q$q after I/O"
done

serve_stop srv "$NAME"
log "cpus OK"
