# shellcheck shell=bash
# Helpers for VM scenarios (test/vm/scenarios/NN-name.sh). Source it first:
#
#   . "$(dirname "$0")/../lib.sh"
#
# It turns on `set -Eeuo pipefail`, reports the failing command and line on
# error, and on exit (pass or fail) runs the registered cleanups (on_exit),
# unmounts /dev/vd* mounts, detaches the vDPA devices attached with
# vdpa_attach, stops the start_bg processes and destroys the VDUSE devices
# left behind. Scenarios run as root in the guest; cwd is the repo root.
#
# Provided by the runner (with defaults for running a scenario by hand):
#   VM_SCENARIO  scenario name      VM_LOG_DIR   its log dir (tmpfs; printed on failure)
#   VM_WORK_DIR  scratch dir (tmpfs) for images, pattern files, mount points
set -Eeuo pipefail

VM_SCENARIO="${VM_SCENARIO:-$(basename "${0%.sh}")}"
VM_LOG_DIR="${VM_LOG_DIR:-${TMPDIR:-/tmp}/vm-logs/$VM_SCENARIO}"
VM_WORK_DIR="${VM_WORK_DIR:-${TMPDIR:-/tmp}/vm-work/$VM_SCENARIO}"
mkdir -p "$VM_LOG_DIR" "$VM_WORK_DIR"

# ------------------------------------------------------------------ basics
# The checkout, as the guest sees it (the host's root is shared read-only at
# the same paths, so this is also the host path). Read-only.
repo_root() {
  if [ -n "${VDUSE_VM_REPO:-}" ]; then echo "$VDUSE_VM_REPO"; return; fi
  (cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
}
# The node binary that ran the host side (same Node as the host's).
node_bin() { echo "${VDUSE_VM_NODE:-$(command -v node)}"; }
# Our CLI: `"$(node_bin)" "$(repo_root)/dist/src/cli.js" serve ...` (see cli_cmd)
cli_js() { echo "$(repo_root)/dist/src/cli.js"; }

log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "$VM_SCENARIO" "$*" >&2; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# assert_eq EXPECTED ACTUAL [WHAT]
assert_eq() {
  [ "$1" = "$2" ] || fail "${3:-value}: expected '$1', got '$2'"
}
# assert_ne UNEXPECTED ACTUAL [WHAT]
assert_ne() {
  [ "$1" != "$2" ] || fail "${3:-value}: did not expect '$1'"
}
# assert_match REGEX ACTUAL [WHAT]  (grep -E)
assert_match() {
  printf '%s\n' "$2" | grep -Eq -- "$1" || fail "${3:-value}: '$2' does not match /$1/"
}
# expect_fail CMD...: CMD must exit non-zero
expect_fail() {
  if "$@"; then fail "expected failure: $*"; fi
}

# with_timeout SECONDS CMD...: run CMD, killing it after SECONDS (status 124)
with_timeout() { local t="$1"; shift; timeout -k 5 "$t" "$@"; }

# wait_until TIMEOUT DESCRIPTION CMD...: poll CMD every 0.1 s until it succeeds
wait_until() {
  local timeout="$1" what="$2"; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${timeout}s waiting for $what"
    sleep 0.1
  done
}
wait_for_path() { wait_until "${2:-30}" "$1 to appear" test -e "$1"; }
wait_for_path_gone() { wait_until "${2:-30}" "$1 to disappear" test ! -e "$1"; }

# ------------------------------------------------------------------ sysfs / devices
_first_block_of() {
  local d
  for d in /sys/bus/vdpa/devices/"$1"/virtio*/block/vd*; do
    [ -e "$d" ] && [ -e "/dev/$(basename "$d")" ] && { basename "$d"; return 0; }
  done
  return 1
}
# wait_for_block NAME [TIMEOUT=30]: wait until vDPA device NAME is bound to
# virtio_blk and its disk exists; prints /dev/vdX. (A successful `vdpa dev
# add` does not prove the driver bound.)
wait_for_block() {
  local name="$1" timeout="${2:-30}"
  wait_until "$timeout" "a virtio_blk disk on vdpa device $name" _first_block_of "$name"
  echo "/dev/$(_first_block_of "$name")"
}
# block_of NAME: /dev/vdX for vDPA device NAME now, or fail
block_of() { local b; b="$(_first_block_of "$1")" || fail "no disk on vdpa device $1"; echo "/dev/$b"; }

# sysfs_block_attr DEV ATTR: e.g. `sysfs_block_attr /dev/vda size`,
# `sysfs_block_attr vda queue/logical_block_size`, `... ro`, `... mq`
sysfs_block_attr() {
  local dev; dev="$(basename "$1")"
  local f="/sys/block/$dev/$2"
  [ -e "$f" ] || fail "no sysfs attribute $f"
  if [ -d "$f" ]; then ls "$f"; else cat "$f"; fi
}
# disk_bytes DEV: size in bytes (sysfs size is in 512-byte sectors)
disk_bytes() { echo $(( $(sysfs_block_attr "$1" size) * 512 )); }

# ------------------------------------------------------------------ vDPA / VDUSE
# vdpa_attach NAME: `vdpa dev add name NAME mgmtdev vduse` (60 s limit).
# (The exit cleanup detaches every vDPA device still there.)
vdpa_attach() {
  with_timeout "${2:-60}" vdpa dev add name "$1" mgmtdev vduse || fail "vdpa dev add $1 failed ($?)"
}
# vdpa_detach NAME: `vdpa dev del NAME` (60 s limit), then wait until the vDPA
# device is gone.
vdpa_detach() {
  with_timeout "${2:-60}" vdpa dev del "$1" || fail "vdpa dev del $1 failed ($?)"
  wait_for_path_gone "/sys/bus/vdpa/devices/$1" 30
}
vdpa_list() { vdpa dev show 2>/dev/null | sed -n 's/^\([^: ]*\): type.*/\1/p'; }
# vduse_destroy NAME: VDUSE_DESTROY_DEV on /dev/vduse/control (for devices a
# dead server left behind). Fails with EBUSY while attached or open.
vduse_destroy() {
  perl -e 'open(my $f, "+<", "/dev/vduse/control") or die "open control: $!\n";
           my $buf = pack("Z256", $ARGV[0]);
           ioctl($f, 0x41008103, $buf) or die "VDUSE_DESTROY_DEV $ARGV[0]: $!\n";' "$1"
}
vduse_list() { local d; for d in /dev/vduse/*; do [ -e "$d" ] && [ "${d##*/}" != control ] && echo "${d##*/}"; done; return 0; }
# wait_for_vduse NAME [TIMEOUT=30]: wait until a server created /dev/vduse/NAME
wait_for_vduse() { wait_for_path "/dev/vduse/$1" "${2:-30}"; }

# vm_modprobe NAME...: load more modules of the guest kernel (e.g. vhost_vdpa)
vm_modprobe() {
  local m
  for m in "$@"; do
    modprobe -d "${VDUSE_VM_KROOT:?}" "$m" || fail "modprobe $m failed"
  done
}

# ------------------------------------------------------------------ background processes
declare -gA _VM_BG_PID=()
_VM_BG_ORDER=()
# start_bg NAME CMD...: run CMD in the background, stdout+stderr to
# $VM_LOG_DIR/NAME.log (printed by the runner on failure). Do not call it in
# $(...): the process must be a child of the scenario shell.
start_bg() {
  local name="$1"; shift
  [ -z "${_VM_BG_PID[$name]:-}" ] || fail "start_bg: $name already started"
  log "start $name: $*"
  "$@" </dev/null >"$VM_LOG_DIR/$name.log" 2>&1 &
  _VM_BG_PID[$name]=$!
  _VM_BG_ORDER+=("$name")
  echo $! >"$VM_LOG_DIR/$name.pid"
}
bg_pid() { echo "${_VM_BG_PID[$1]:?no background process $1}"; }
bg_log() { echo "$VM_LOG_DIR/$1.log"; }
bg_alive() { local p="${_VM_BG_PID[$1]:-}"; [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
# wait_for_log NAME REGEX [TIMEOUT=30]: wait until NAME's log matches (grep -E)
wait_for_log() {
  local name="$1" re="$2" timeout="${3:-30}"
  local deadline=$((SECONDS + timeout))
  until grep -Eq -- "$re" "$VM_LOG_DIR/$name.log" 2>/dev/null; do
    bg_alive "$name" || grep -Eq -- "$re" "$VM_LOG_DIR/$name.log" 2>/dev/null \
      || fail "$name exited before its log matched /$re/"
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${timeout}s waiting for /$re/ in $name's log"
    sleep 0.1
  done
}
# wait_bg NAME [TIMEOUT=30]: wait for NAME to exit by itself; returns its
# exit status (fails if it is still running after TIMEOUT).
wait_bg() {
  local name="$1" timeout="${2:-30}" pid rc=0
  pid="$(bg_pid "$name")"
  wait_until "$timeout" "$name (pid $pid) to exit" _vm_not_running "$pid"
  wait "$pid" || rc=$?
  unset "_VM_BG_PID[$name]"
  return "$rc"
}
_vm_not_running() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
# stop_bg NAME [SIGNAL=TERM] [TIMEOUT=20]: signal NAME, wait for it to exit
# (SIGKILL after TIMEOUT) and return its exit status (143 = died of SIGTERM).
stop_bg() {
  local name="$1" sig="${2:-TERM}" timeout="${3:-20}" pid rc=0
  pid="${_VM_BG_PID[$name]:-}"
  [ -n "$pid" ] || fail "stop_bg: no background process $name"
  kill "-$sig" "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + timeout))
  while ! _vm_not_running "$pid"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "$name (pid $pid) still running ${timeout}s after SIG$sig: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  wait "$pid" || rc=$?
  unset "_VM_BG_PID[$name]"
  return "$rc"
}

# ------------------------------------------------------------------ images / data
# make_image PATH SIZE: sparse file (SIZE as for truncate: 256M, 1G)
make_image() { truncate -s "$2" "$1"; }
# sha_of FILE|DEV [SKIP_MIB COUNT_MIB]: sha256 of a file/device, or of a
# MiB range of it (block devices are read with O_DIRECT, bypassing the page cache)
sha_of() {
  local flag=()
  [ -b "$1" ] && flag=(iflag=direct)
  if [ $# -ge 3 ]; then
    dd if="$1" bs=1M skip="$2" count="$3" "${flag[@]}" status=none | sha256sum | cut -d' ' -f1
  else
    dd if="$1" bs=1M "${flag[@]}" status=none | sha256sum | cut -d' ' -f1
  fi
}

# ------------------------------------------------------------------ cleanup
_VM_ON_EXIT=()
# on_exit CMD: run CMD (a string, eval'd) at exit, before the default cleanup; LIFO
on_exit() { _VM_ON_EXIT+=("$1"); }

_vm_cleanup() {
  local rc=$? i name
  set +e
  trap - ERR
  for ((i = ${#_VM_ON_EXIT[@]} - 1; i >= 0; i--)); do eval "${_VM_ON_EXIT[$i]}"; done
  # Unmount filesystems on virtio disks (lazily: a wedged device must not hang us).
  awk '$1 ~ "^/dev/vd" {print $2}' /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
  # Detach every vDPA device (the runner starts each scenario with none),
  # while the servers still run: detach flushes I/O.
  for name in $(vdpa_list); do
    if [ -e "/sys/bus/vdpa/devices/$name" ]; then
      log "cleanup: vdpa dev del $name"
      timeout -k 5 60 vdpa dev del "$name"
    fi
  done
  for ((i = ${#_VM_BG_ORDER[@]} - 1; i >= 0; i--)); do
    name="${_VM_BG_ORDER[$i]}"
    if [ -n "${_VM_BG_PID[$name]:-}" ]; then
      log "cleanup: stopping $name"
      stop_bg "$name" TERM 10 >/dev/null 2>&1
    fi
  done
  return "$rc"
}
_vm_on_err() {
  local rc=$? cmd="$BASH_COMMAND"
  [[ $- == *e* ]] || return 0   # only report what aborts the scenario
  printf 'ERROR: status %s from `%s` at %s:%s\n' "$rc" "$cmd" "${BASH_SOURCE[1]:-?}" "${BASH_LINENO[0]:-?}" >&2
}
trap _vm_cleanup EXIT
trap _vm_on_err ERR
