#!/usr/bin/env bash
# Guest side of `npm run bench:vm:profile` (host side: bench/vm-profile.mjs).
# Runs in the real-kernel TCG guest (test/vm/boot.mjs), as root.
#
# Where one server's CPU goes per request, for one fio job of the benchmark
# (test/vm/bench/bench-lib.sh): the server (ours, or qemu-storage-daemon for
# comparison) on an image in guest tmpfs, a warm-up, then `perf record -g`
# of the whole guest for PROFILE_SECONDS while fio runs. Prints, per I/O the
# disk completed in that window (from /sys/block/vdX/stat):
#   - CPU µs per thread name, user and kernel, from /proc (ticks);
#   - perf samples per command (every process: fio, kworkers, idle);
#   - the busiest server thread's symbols, inclusive ("children") and self.
#   - the next two server threads' self symbols (for ours: V8's compiler and
#     garbage-collector helpers, which run as threads named "node").
# Our server runs with --perf-basic-prof, so JIT frames show as JS:function.
#
# Knobs: PROFILE_JOB read-128k-qd8   PROFILE_SERVER ours|qsd   PROFILE_SECONDS 8
#        PROFILE_IMAGE_MB 512   PROFILE_TOP 60 (symbol lines)   PROFILE_ENV 'K=V ...'
#        (environment of our server)   PROFILE_QUEUES 1
#        PROFILE_CLI PATH: our server is this cli.js (another build, e.g. a
#        worktree of the previous commit built on the host)
#        PROFILE_NODE_FLAGS '--trace-gc ...': more node/V8 flags for our server
#        (V8's own flags are not allowed in NODE_OPTIONS); whatever the server
#        prints that is not a log line (a GC trace) is shown.
# Output between "VDUSE_PROFILE_BEGIN" and "VDUSE_PROFILE_END" console lines.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/bench-lib.sh"

JOB="${PROFILE_JOB:-read-128k-qd8}"
SERVER="${PROFILE_SERVER:-ours}"
WINDOW="${PROFILE_SECONDS:-8}"
IMAGE_MB="${PROFILE_IMAGE_MB:-512}"
TOP="${PROFILE_TOP:-60}"
QUEUES="${PROFILE_QUEUES:-1}"
FREQ=2000
IMG="$VM_WORK_DIR/disk.img"
PERF_DATA="$VM_WORK_DIR/perf.data"

command -v perf >/dev/null || fail "perf is not installed on the host (apt-get install linux-perf)"
# Symbols of the guest kernel, and perf for root without limits.
echo 0 >/proc/sys/kernel/kptr_restrict
echo -1 >/proc/sys/kernel/perf_event_paranoid

dd if=/dev/urandom of="$IMG" bs=1M count="$IMAGE_MB" status=none
name="prof$QUEUES"
case "$SERVER" in
  ours)
    read -r -a envs <<<"${PROFILE_ENV:-}"
    read -r -a node_flags <<<"${PROFILE_NODE_FLAGS:-}"
    start_bg server env "${envs[@]}" "$(node_bin)" --perf-basic-prof "${node_flags[@]}" "${PROFILE_CLI:-$(cli_js)}" serve --name "$name" --file "$IMG" \
      --queues "$QUEUES" --queue-size 256
    wait_for_log server '"msg":"device attached"' 90
    dev="$(grep -m1 '"msg":"device attached"' "$(bg_log server)" | sed -n 's/.*"blockDevice":"\([^"]*\)".*/\1/p')" ;;
  qsd)
    start_bg server env TMPDIR=/tmp qemu-storage-daemon --blockdev "driver=file,node-name=f0,filename=$IMG" \
      --export "type=vduse-blk,id=e0,node-name=f0,name=$name,num-queues=$QUEUES,queue-size=256,writable=on"
    wait_for_vduse "$name" 30
    vdpa_attach "$name"
    dev="$(wait_for_block "$name")" ;;
  *) fail "PROFILE_SERVER must be ours or qsd, not $SERVER" ;;
esac
[ -b "$dev" ] || fail "no block device for the $SERVER server ('$dev')"
pid="$(bg_pid server)"
mapfile -t args < <(job_args "$JOB" "$QUEUES")
fio_run() {  # fio_run SECONDS OUTPUT
  fio --name="$JOB" --filename="$dev" --ioengine=libaio --direct=1 --time_based --runtime="$1" \
    --norandommap --randrepeat=0 --group_reporting --output="$2" "${args[@]}"
}
log "warm-up: 3 s of $JOB on $SERVER ($dev)"
fio_run 3 "$VM_LOG_DIR/warmup.txt" >/dev/null 2>&1 || fail "warm-up fio failed"

# completed I/Os of the disk (reads + writes: fields 1 and 5 of /sys/block/X/stat)
disk_ios() { awk '{print $1 + $5}' "/sys/block/${dev#/dev/}/stat"; }

log "profiling ${WINDOW} s of $JOB on $SERVER"
fio_run $((WINDOW + 3)) "$VM_LOG_DIR/fio.txt" >/dev/null 2>&1 &
fio_pid=$!
sleep 1
thread_ticks "$pid" >"$VM_LOG_DIR/t0"; io0="$(disk_ios)"; log0="$(wc -l <"$(bg_log server)")"
perf record -q -g -a -F "$FREQ" -o "$PERF_DATA" -- sleep "$WINDOW" >/dev/null 2>&1 || fail "perf record failed"
io1="$(disk_ios)"; thread_ticks "$pid" >"$VM_LOG_DIR/t1"; log1="$(wc -l <"$(bg_log server)")"
wait "$fio_pid" || fail "fio failed: $(cat "$VM_LOG_DIR/fio.txt")"
ios=$((io1 - io0))
[ "$ios" -gt 0 ] || fail "no I/O completed in the window"

report() { perf report -i "$PERF_DATA" --stdio "$@" 2>/dev/null | grep -v '^#' | grep -v '^$'; }
echo VDUSE_PROFILE_BEGIN
echo "job $JOB, server $SERVER, $QUEUES queue(s), $ios I/Os in ${WINDOW} s ($((ios / WINDOW)) IOPS); perf at $FREQ Hz, so one sample is $((1000000 / FREQ)) us"
echo "--- server threads, CPU us per I/O (from /proc; threads that exited are not counted)"
jq -rn --argjson all "$(thread_cpu_json "$VM_LOG_DIR/t0" "$VM_LOG_DIR/t1")" \
  --argjson kernel "$(thread_cpu_json "$VM_LOG_DIR/t0" "$VM_LOG_DIR/t1" 3)" --arg ios "$ios" '
  $all | to_entries | sort_by(-.value)[] | (1e6 / ($ios | tonumber)) as $per
  | "\((.value - ($kernel[.key] // 0)) * $per)\t\(($kernel[.key] // 0) * $per)\t\(.key)"' |
  awk -F'\t' '{ printf "%10.1f user %10.1f kernel  %s\n", $1, $2, $3 }'
echo "--- server threads, sleeps (voluntary switches) and minor page faults per I/O"
jq -rn --argjson sleeps "$(thread_delta_json "$VM_LOG_DIR/t0" "$VM_LOG_DIR/t1" 4 "$ios" '%.3f')" \
  --argjson faults "$(thread_delta_json "$VM_LOG_DIR/t0" "$VM_LOG_DIR/t1" 6 "$ios" '%.3f')" '
  ($sleeps + $faults) | keys[] as $k | "\($sleeps[$k] // 0)\t\($faults[$k] // 0)\t\($k)"' |
  awk -F'\t' '{ printf "%10.3f sleeps %8.3f faults  %s\n", $1, $2, $3 }'
echo "--- every command, perf samples as us per I/O (swapper: idle)"
# (awk, not head: pipefail would fail on head's early exit)
flat() { report --no-children --call-graph=none -n "$@"; }
flat --sort comm | awk -v ios="$ios" -v f="$FREQ" 'NR <= 15 { n = $2; $1 = $2 = ""; printf "%10.1f %s\n", n * 1e6 / f / ios, $0 }'
busiest="$(flat --sort comm --pid "$pid" | awk 'NR == 1 { $1 = $2 = ""; sub(/^ +/, ""); print }')"
total="$(flat --sort comm --comms "$busiest" | awk 'NR == 1 { print $2 }')"
echo "--- $busiest ($total samples, $(awk -v t="$total" -v ios="$ios" -v f="$FREQ" 'BEGIN { printf "%.1f", t * 1e6 / f / ios }') us per I/O): symbols, inclusive and self, us per I/O"
report --children --percentage relative --comms "$busiest" --sort sym --call-graph=none | awk -v top="$TOP" -v t="$total" -v ios="$ios" -v f="$FREQ" '
  { c = $1; s = $2; sub(/%/, "", c); sub(/%/, "", s); $1 = ""; $2 = ""
    if (NR <= top) printf "%9.1f %9.1f %s\n", c / 100 * t * 1e6 / f / ios, s / 100 * t * 1e6 / f / ios, $0 }'
# The server's other threads (for ours: the main thread and V8's platform
# workers, which compile and mark for every isolate): what they spend it on.
# A thread with no samples prints nothing (hence `|| true`: grep finds no line).
other_threads() {
  local other n
  flat --sort comm --pid "$pid" | awk 'NR > 1 && NR <= 3 { $1 = $2 = ""; sub(/^ +/, ""); print }' | while read -r other; do
    n="$(flat --sort comm --comms "$other" --pid "$pid" | awk 'NR == 1 { print $2 }')"
    [ -n "$n" ] || continue
    echo "--- $other ($n samples, $(awk -v t="$n" -v ios="$ios" -v f="$FREQ" 'BEGIN { printf "%.1f", t * 1e6 / f / ios }') us per I/O): self symbols, us per I/O"
    flat --comms "$other" --pid "$pid" --sort sym | awk -v ios="$ios" -v f="$FREQ" 'NR <= 20 { n = $2; $1 = $2 = ""; printf "%10.1f %s\n", n * 1e6 / f / ios, $0 }'
  done
}
other_threads || true
# What the server printed that is not a pino line (one JSON object a line)
# nor V8's MemoryChunk log noise, from its start to the window's end, the
# window's start marked: with --trace-gc, every isolate's collections.
if [ "$SERVER" = ours ] && [ -n "${PROFILE_NODE_FLAGS:-}" ]; then
  echo "--- the server's other output ($PROFILE_NODE_FLAGS), from its start; last $TOP lines"
  awk -v from="$log0" -v to="$log1" 'NR == from + 1 { print "    (the window starts)" }
    NR <= to && !/^\{/ && !/MemoryChunk/' "$(bg_log server)" |
    tail -n "$TOP"
fi
echo VDUSE_PROFILE_END
stop_bg server
