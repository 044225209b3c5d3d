#!/usr/bin/env bash
# Runs INSIDE the guest, as root (stage2.sh starts it with cwd = repo root).
# Runs each scenario (test/vm/scenarios/NN-name.sh) in turn, in its own
# session, with its own timeout, and prints one line per scenario:
#   SCENARIO <name> PASS|FAIL <seconds>s
# On failure it prints the scenario's log, its other logs ($VM_LOG_DIR/*) and
# `dmesg | tail -50`. Between scenarios it removes what a scenario left behind
# (mounts of /dev/vd*, vDPA devices, processes, VDUSE devices).
# Exit status: 0 if all passed, 1 otherwise.
#
# Environment (set by test/vm/run.mjs through boot.mjs):
#   VDUSE_VM_SCENARIO_LIST     scenario names to run (default: all)
#   VDUSE_VM_SCENARIO_TIMEOUT  default per-scenario timeout in seconds (300);
#                              a scenario overrides it with a `# vm-timeout: N` line
#   VDUSE_VM_VERBOSE=1         also stream scenario output to the console
set -uo pipefail
HARNESS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCEN_DIR="$HARNESS/scenarios"
DEFAULT_TIMEOUT="${VDUSE_VM_SCENARIO_TIMEOUT:-300}"
LOG_ROOT="${TMPDIR:-/tmp}/vm-logs"
WORK_ROOT="${TMPDIR:-/tmp}/vm-work"
mkdir -p "$LOG_ROOT" "$WORK_ROOT"

say() { echo "[runner] $*"; }

if [ -n "${VDUSE_VM_SCENARIO_LIST:-}" ]; then
  read -r -a names <<<"$VDUSE_VM_SCENARIO_LIST"
else
  names=()
  for f in "$SCEN_DIR"/[0-9][0-9]-*.sh; do [ -e "$f" ] && names+=("$(basename "${f%.sh}")"); done
fi

scenario_timeout() {
  local t
  t="$(head -n 20 "$1" | sed -n 's/^# *vm-timeout: *\([0-9][0-9]*\).*/\1/p' | head -n1)"
  echo "${t:-$DEFAULT_TIMEOUT}"
}

dump_file() {
  local f="$1" max="${2:-400}" n
  n="$(wc -l <"$f")"
  echo "----- $f ($n lines${n:+, last $max})"
  tail -n "$max" "$f"
}

# Remove what a scenario left behind so the next one starts clean.
cleanup_after() {
  local name="$1" sid="$2" m d left=0
  while read -r m; do
    say "cleanup($name): umount $m"; umount -l "$m"; left=1
  done < <(awk '$1 ~ "^/dev/vd" {print $2}' /proc/mounts | sort -r)
  for d in $(vdpa dev show 2>/dev/null | sed -n 's/^\([^: ]*\): type.*/\1/p'); do
    say "cleanup($name): vdpa dev del $d"; timeout -k 5 60 vdpa dev del "$d"; left=1
  done
  if pgrep -s "$sid" >/dev/null 2>&1; then
    say "cleanup($name): killing leftover processes: $(pgrep -s "$sid" | tr '\n' ' ')"
    pkill -TERM -s "$sid"; sleep 1; pkill -KILL -s "$sid"; left=1
  fi
  for d in /dev/vduse/*; do
    [ -e "$d" ] && [ "${d##*/}" != control ] || continue
    say "cleanup($name): destroying VDUSE device ${d##*/}"; left=1
    perl -e 'open(my $f, "+<", "/dev/vduse/control") or die "$!\n";
             ioctl($f, 0x41008103, pack("Z256", $ARGV[0])) or die "VDUSE_DESTROY_DEV $ARGV[0]: $!\n";' "${d##*/}" \
      || say "cleanup($name): could not destroy ${d##*/}"
  done
  [ "$left" = 0 ] || say "WARNING: scenario $name left state behind (cleaned up)"
}

pass=0; failed=0; failed_names=()
say "kernel $(uname -r), $(nproc) cpus, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB, node $("${VDUSE_VM_NODE:-node}" --version 2>/dev/null)"
say "scenarios: ${names[*]:-(none)}"
for name in "${names[@]}"; do
  file="$SCEN_DIR/$name.sh"
  logdir="$LOG_ROOT/$name"; workdir="$WORK_ROOT/$name"
  rm -rf "$logdir" "$workdir"; mkdir -p "$logdir" "$workdir"
  if [ ! -f "$file" ]; then
    echo "no such scenario: $file" >"$logdir/scenario.log"
    t=0; rc=127; start=$SECONDS
  else
    t="$(scenario_timeout "$file")"
    say "=== $name (timeout ${t}s)"
    dmesg -c >/dev/null 2>&1   # so that the dmesg tail on failure is this scenario's
    start=$SECONDS
    # Own session (setsid) so leftovers can be found; `timeout` signals the
    # whole process group when the time is up.
    # cwd: the scenario's scratch dir (tmpfs): the repo is read-only, and
    # tools like fio write state files into the cwd.
    (cd "$workdir" && VM_SCENARIO="$name" VM_LOG_DIR="$logdir" VM_WORK_DIR="$workdir" \
      exec setsid -w timeout -k 15 "$t" bash "$file" </dev/null >"$logdir/scenario.log" 2>&1) &
    sid=$!
    [ "${VDUSE_VM_VERBOSE:-0}" = 1 ] && tail -n +1 -f --pid="$sid" "$logdir/scenario.log" &
    wait "$sid"; rc=$?
    wait   # the verbose tail, if any
  fi
  secs=$((SECONDS - start))
  [ "$rc" = 124 ] && echo "TIMEOUT: scenario killed after ${t}s" >>"$logdir/scenario.log"
  if [ "$rc" = 0 ]; then
    echo "SCENARIO $name PASS ${secs}s"
    pass=$((pass + 1))
  else
    echo "SCENARIO $name FAIL ${secs}s"
    failed=$((failed + 1)); failed_names+=("$name")
    echo "===== $name failed with status $rc$([ "$rc" = 124 ] && echo " (timeout after ${t}s)") ====="
    dump_file "$logdir/scenario.log" 400
    for f in "$logdir"/*; do
      [ -f "$f" ] && [ "$f" != "$logdir/scenario.log" ] && case "$f" in *.pid) ;; *) dump_file "$f" 100 ;; esac
    done
    echo "----- dmesg | tail -50"
    dmesg | tail -n 50
    echo "===== end of $name"
  fi
  cleanup_after "$name" "${sid:-0}" 2>&1
  rm -rf "$workdir"   # images live in RAM (tmpfs)
done

say "$pass passed, $failed failed${failed_names[*]:+ (${failed_names[*]})}"
[ "$failed" = 0 ]
