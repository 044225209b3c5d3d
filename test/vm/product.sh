# shellcheck shell=bash
# Helpers for scenarios that run our product (vduse-blk serve) in the guest.
# Source after lib.sh:
#
#   . "$(dirname "$0")/../lib.sh"
#   . "$(dirname "$0")/../product.sh"

# The product the scenarios run: by default a snapshot of the checkout's
# dist/src, build/Release/vduse_native.node and package.json, taken once per
# guest boot into guest tmpfs (node_modules is linked, not copied), so that a
# rebuild on the host while the suite runs (tsc, node-gyp rebuild, both seen
# through the live 9p share) cannot pull files from under a starting server.
# VDUSE_VM_LIVE_TREE=1 runs the checkout itself.
PRODUCT_SNAPSHOT="${TMPDIR:-/tmp}/vduse-blk-snapshot"
_product_snapshot() {
  local root try
  root="$(repo_root)"
  [ -f "$PRODUCT_SNAPSHOT/.complete" ] && return 0
  for try in 1 2 3 4 5 6 7 8 9 10; do
    rm -rf "$PRODUCT_SNAPSHOT"
    mkdir -p "$PRODUCT_SNAPSHOT/dist" "$PRODUCT_SNAPSHOT/build/Release"
    if cp -a "$root/dist/src" "$PRODUCT_SNAPSHOT/dist/" 2>/dev/null \
      && cp "$root/build/Release/vduse_native.node" "$PRODUCT_SNAPSHOT/build/Release/" 2>/dev/null \
      && cp "$root/package.json" "$PRODUCT_SNAPSHOT/" 2>/dev/null \
      && [ -f "$PRODUCT_SNAPSHOT/dist/src/cli.js" ]; then
      ln -s "$root/node_modules" "$PRODUCT_SNAPSHOT/node_modules"
      touch "$PRODUCT_SNAPSHOT/.complete"
      return 0
    fi
    log "snapshot of the product failed (host rebuilding?), retry $try"
    sleep 3
  done
  fail "could not snapshot dist/ and build/Release/vduse_native.node from $root"
}
# product_cli: the cli.js scenarios run
product_cli() {
  if [ "${VDUSE_VM_LIVE_TREE:-0}" = 1 ]; then cli_js; return; fi
  _product_snapshot
  echo "$PRODUCT_SNAPSHOT/dist/src/cli.js"
}

# serve_start BGNAME DEVNAME FILE [serve options...]: starts
# `vduse-blk serve --name DEVNAME --file FILE ... --log-level debug` as
# background process BGNAME (its log: $(bg_log BGNAME)), waits for its
# 'device attached' log line and prints the block device it reports (/dev/vdX).
# Don't call it in $(...) (the server must be a child of the scenario shell):
# the device lands in $SERVE_DEV.
serve_start() {
  local bg="$1" name="$2" file="$3"; shift 3
  local cli; cli="$(product_cli)"
  start_bg "$bg" "$(node_bin)" "$cli" serve --name "$name" --file "$file" --log-level debug "$@"
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
  # No error-level lines (pino: 50 error, 60 fatal), unless the scenario expects some.
  if [ "${SERVE_ALLOW_ERRORS:-0}" != 1 ] && grep -q '"level":[56]0' "$(bg_log "$bg")"; then
    grep '"level":[56]0' "$(bg_log "$bg")" | head -5 >&2
    fail "$bg logged errors"
  fi
  log "$bg: log levels: $(grep -o '"level":[0-9]*' "$(bg_log "$bg")" | sort | uniq -c | tr -s ' \n' ' ')"
  log "$bg: stopped with SIG$sig, exit 0, $name gone"
}

# zeros_sha MIB: sha256 of MIB MiB of zeros
zeros_sha() { dd if=/dev/zero bs=1M count="$1" status=none | sha256sum | cut -d' ' -f1; }
