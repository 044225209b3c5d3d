# shellcheck shell=bash
# Helpers for scenarios that run our product (vduse-blk serve) in the guest.
# Source after lib.sh:
#
#   . "$(dirname "$0")/../lib.sh"
#   . "$(dirname "$0")/../product.sh"

# serve_start BGNAME DEVNAME FILE [serve options...]: starts
# `vduse-blk serve --name DEVNAME --file FILE ... --log-level debug` as
# background process BGNAME (its log: $(bg_log BGNAME)), waits for its
# 'device attached' log line and prints the block device it reports (/dev/vdX).
# Don't call it in $(...) (the server must be a child of the scenario shell):
# the device lands in $SERVE_DEV.
serve_start() {
  local bg="$1" name="$2" file="$3"; shift 3
  start_bg "$bg" "$(node_bin)" "$(cli_js)" serve --name "$name" --file "$file" --log-level debug "$@"
  wait_for_log "$bg" '"msg":"device attached"' "${SERVE_ATTACH_TIMEOUT:-90}"
  SERVE_DEV="$(grep -m1 '"msg":"device attached"' "$(bg_log "$bg")" | sed -n 's/.*"blockDevice":"\([^"]*\)".*/\1/p')"
  [ -n "$SERVE_DEV" ] || fail "$bg: no blockDevice in its 'device attached' line"
  [ -b "$SERVE_DEV" ] || fail "$bg: $SERVE_DEV is not a block device"
  # The disk the server reports is the one sysfs shows under the vdpa device.
  assert_eq "$SERVE_DEV" "$(block_of "$name")" "block device of vdpa device $name"
  log "$bg: $name attached as $SERVE_DEV"
}

# serve_stop BGNAME DEVNAME [SIGNAL=TERM] [TIMEOUT=60]: signals the server,
# asserts it exits 0 and that both /dev/vduse/DEVNAME and the vdpa device are gone.
serve_stop() {
  local bg="$1" name="$2" sig="${3:-TERM}" timeout="${4:-60}" rc=0
  stop_bg "$bg" "$sig" "$timeout" || rc=$?
  assert_eq 0 "$rc" "exit status of $bg after SIG$sig"
  [ ! -e "/sys/bus/vdpa/devices/$name" ] || fail "/sys/bus/vdpa/devices/$name still exists after $bg exited"
  [ ! -e "/dev/vduse/$name" ] || fail "/dev/vduse/$name still exists after $bg exited"
  vdpa_list | grep -qx -- "$name" && fail "vdpa dev show still lists $name"
  grep -q '"msg":"device destroyed"' "$(bg_log "$bg")" || fail "$bg did not log 'device destroyed'"
  log "$bg: stopped with SIG$sig, exit 0, $name gone"
}

# zeros_sha MIB: sha256 of MIB MiB of zeros
zeros_sha() { dd if=/dev/zero bs=1M count="$1" status=none | sha256sum | cut -d' ' -f1; }
