#!/usr/bin/env bash
# Guest side of `npm run bench:vm` (host side: bench/vm.mjs). Runs in the
# real-kernel TCG guest (test/vm/boot.mjs), as root, cwd = repo root.
#
# Compares qemu-storage-daemon's vduse-blk export ("qsd") with our server
# ("vduse-blk") on the same pre-filled image in guest tmpfs, same queue count,
# queue size 256. For each queue count in BENCH_QUEUES it starts and attaches
# every server of the phase at once (all on the same image: the idle ones cost
# nothing, both servers are event-driven), then runs each fio job on every
# server back to back, alternating the server order from job to job (forward,
# reversed, forward, ...), so drift on the host hits every server alike; then
# detaches and stops them.
#
# Servers per phase: qsd, vduse-blk, with BENCH_POLL_US > 0 "vduse-blk --poll-us N"
# (adaptive polling up to N us), and with queues > 1 (BENCH_CPUS_VARIANT=1)
# also "vduse-blk --cpus": our server with --cpus 0..queues-1 (each queue
# worker pinned, the queue's IRQ pointed at the same CPU).
#
# fio jobs (libaio, direct=1, time_based, BENCH_RUNTIME s after BENCH_RAMP s):
#   randread-4k-qd1, randread-4k-qd32, randwrite-4k-qd32, read-128k-qd8,
#   and with queues > 1: randread-4k-qd32-xN (numjobs = queues, job i pinned
#   to CPU i so each job submits on its own hardware queue, group_reporting).
#
# Output (the console is the only channel: the host's root is read-only here):
#   VDUSE_BENCH_INFO {json}                         once, environment
#   VDUSE_BENCH_RESULT {"meta":{...},"fio":{...}}   one line per fio run
#   VDUSE_BENCH_ERROR {json}                        a server or fio run failed
#   VDUSE_BENCH_DONE {json}                         at the end
# The script exits 0 if every server started and every fio run produced JSON.
#
# Knobs (environment, set by bench/vm.mjs):
#   BENCH_QUEUES "1 2"   BENCH_RUNTIME 10   BENCH_RAMP 2   BENCH_IMAGE_MB 1024
#   BENCH_CPUS_VARIANT 1   BENCH_POLL_US 500 (0: no polling variant)
#   BENCH_JOBS (filter: job names, blank separated)
#   BENCH_ROUNDS 1: run every job that many times per server (round after
#   round, the server order flipping between rounds too)
#   BENCH_VARIANT_ENV 'K=V ...': one more server, "vduse-blk env K=V ...", the
#   default one started with these environment variables (an A/B of a knob
#   such as VDUSE_BLK_IO in one boot; empty: none)
#   BENCH_VARIANT_CLI PATH: that server runs this cli.js instead (another
#   build of the product, e.g. a worktree of the previous commit, built on
#   the host; with BENCH_VARIANT_ENV empty the variant is "vduse-blk cli PATH")
#   BENCH_WARMUP 3: seconds of unmeasured 4k randrw and then 128k reads on
#   each server after attach (warms up the JIT of our server and the caches
#   of both alike; 0: none)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/bench-lib.sh"

QUEUES="${BENCH_QUEUES:-1 2}"
RUNTIME="${BENCH_RUNTIME:-10}"
RAMP="${BENCH_RAMP:-2}"
IMAGE_MB="${BENCH_IMAGE_MB:-1024}"
CPUS_VARIANT="${BENCH_CPUS_VARIANT:-1}"
POLL_US="${BENCH_POLL_US:-500}"
JOB_FILTER="${BENCH_JOBS:-}"
WARMUP="${BENCH_WARMUP:-3}"
ROUNDS="${BENCH_ROUNDS:-1}"
VARIANT_ENV="${BENCH_VARIANT_ENV:-}"
VARIANT_CLI="${BENCH_VARIANT_CLI:-}"
QUEUE_SIZE=256
IMG="$VM_WORK_DIR/disk.img"
ERRORS=0
SEQ=0

emit() { printf '%s %s\n' "$1" "$2"; }
bench_error() {  # bench_error WHAT [SERVER] [QUEUES] [JOB]
  ERRORS=$((ERRORS + 1))
  log "ERROR: $1"
  emit VDUSE_BENCH_ERROR "$(jq -cn --arg error "$1" --arg server "${2:-}" --arg queues "${3:-}" --arg job "${4:-}" \
    '{error: $error, server: $server, queues: $queues, job: $job}')"
}
# poll TIMEOUT CMD...: like wait_until, but returns 1 on timeout instead of failing
poll() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}
show_log() { log "--- last lines of $1's log:"; tail -n 30 "$(bg_log "$1")" >&2 || true; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# The whole guest's CPU time by kind, in ticks: user nice system idle iowait irq softirq steal.
guest_ticks() { awk '$1 == "cpu" { print $2, $3, $4, $5, $6, $7, $8, $9; exit }' /proc/stat; }
# guest_cpu_json BEFORE AFTER: {"user": s, "system": s, "idle": s, ...} over the run, all CPUs summed.
guest_cpu_json() {
  jq -cn --arg a "$1" --arg b "$2" --arg hz "$CLK_TCK" '
    [$a, $b] | map(split(" ") | map(tonumber)) as [$x, $y]
    | ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"]
    | to_entries | map({key: .value, value: (($y[.key] - $x[.key]) / ($hz | tonumber))}) | from_entries'
}
# thread_sleeps_json BEFORE AFTER: how many times the threads of each name went to sleep
thread_sleeps_json() { thread_delta_json "$1" "$2" 4 1 '%d'; }

# ------------------------------------------------------------------ image
log "image: ${IMAGE_MB} MiB in guest tmpfs, filled with random data"
t0=$SECONDS
seed_mb=64
[ "$IMAGE_MB" -lt "$seed_mb" ] && seed_mb="$IMAGE_MB"
[ $((IMAGE_MB % seed_mb)) -eq 0 ] || fail "BENCH_IMAGE_MB ($IMAGE_MB) must be a multiple of $seed_mb"
dd if=/dev/urandom of="$VM_WORK_DIR/seed" bs=1M count="$seed_mb" status=none
: >"$IMG"
for ((i = 0; i < IMAGE_MB / seed_mb; i++)); do cat "$VM_WORK_DIR/seed" >>"$IMG"; done
rm -f "$VM_WORK_DIR/seed"
assert_eq $((IMAGE_MB * 1048576)) "$(stat -c %s "$IMG")" "image size"
log "image ready in $((SECONDS - t0))s (${seed_mb} MiB of /dev/urandom, repeated); $(df -h /tmp | tail -1)"

CLOCKSOURCE="$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null || echo unknown)"
log "clocksource: $CLOCKSOURCE (available: $(cat /sys/devices/system/clocksource/clocksource0/available_clocksource 2>/dev/null))"
emit VDUSE_BENCH_INFO "$(jq -cn \
  --arg kernel "$(uname -r)" --arg cpus "$(nproc)" --arg mem "$(awk '/MemTotal/ {print $2}' /proc/meminfo)" \
  --arg clocksource "$CLOCKSOURCE" \
  --arg fio "$(fio --version)" --arg qsd "$(qemu-storage-daemon --version | head -1)" \
  --arg node "$("$(node_bin)" --version)" --arg image_mb "$IMAGE_MB" --arg runtime "$RUNTIME" --arg ramp "$RAMP" \
  --arg queues "$QUEUES" --arg queue_size "$QUEUE_SIZE" --arg fill_s "$((SECONDS - t0))" --arg warmup "$WARMUP" --arg rounds "$ROUNDS" \
  '{kernel: $kernel, clocksource: $clocksource, cpus: ($cpus|tonumber), mem_kib: ($mem|tonumber), fio: $fio, qsd: $qsd, node: $node,
    image_mb: ($image_mb|tonumber), runtime_s: ($runtime|tonumber), ramp_s: ($ramp|tonumber),
    queues: ($queues|split(" ")|map(select(length>0)|tonumber)), queue_size: ($queue_size|tonumber),
    image_fill_s: ($fill_s|tonumber), warmup_s: ($warmup|tonumber), rounds: ($rounds|tonumber)}')"

# ------------------------------------------------------------------ servers
# Each server of a phase: SRV_BG[key] (start_bg name), SRV_NAME[key] (vdpa name),
# SRV_DEV[key] (/dev/vdX once attached), SRV_LABEL[key] (as reported).
declare -A SRV_BG=() SRV_NAME=() SRV_DEV=() SRV_LABEL=()

start_qsd() {  # start_qsd KEY QUEUES
  local key="$1" q="$2" name="bqsd$2" bg="qsd-q$2"
  SRV_BG[$key]="$bg"; SRV_NAME[$key]="$name"; SRV_LABEL[$key]="qsd"
  start_bg "$bg" env TMPDIR=/tmp qemu-storage-daemon \
    --blockdev "driver=file,node-name=f0,filename=$IMG" \
    --export "type=vduse-blk,id=e0,node-name=f0,name=$name,num-queues=$q,queue-size=$QUEUE_SIZE,writable=on"
  if ! poll 30 test -e "/dev/vduse/$name" || ! bg_alive "$bg"; then
    show_log "$bg"; bench_error "qemu-storage-daemon did not create /dev/vduse/$name" qsd "$q"; return 1
  fi
  if ! timeout -k 5 60 vdpa dev add name "$name" mgmtdev vduse; then
    show_log "$bg"; bench_error "vdpa dev add $name failed" qsd "$q"; return 1
  fi
  if ! poll 60 _first_block_of "$name"; then
    show_log "$bg"; bench_error "no virtio_blk disk on vdpa device $name" qsd "$q"; return 1
  fi
  SRV_DEV[$key]="/dev/$(_first_block_of "$name")"
}

attached_or_gone() { grep -q '"msg":"device attached"' "$(bg_log "$1")" || ! bg_alive "$1"; }

start_ours() {  # start_ours KEY QUEUES [serve options...]; OURS_ENV: 'K=V ...', OURS_CLI: cli.js for this server
  local key="$1" q="$2"; shift 2
  local name="bours${key#ours}$q" bg="$key-q$q" dev
  local -a envs=()
  read -r -a envs <<<"${OURS_ENV:-}"
  SRV_BG[$key]="$bg"; SRV_NAME[$key]="$name"
  SRV_LABEL[$key]="vduse-blk${OURS_CLI:+ cli $OURS_CLI}${OURS_ENV:+ env $OURS_ENV}${*:+ $*}"
  start_bg "$bg" env "${envs[@]}" "$(node_bin)" "${OURS_CLI:-$(cli_js)}" serve --name "$name" --file "$IMG" \
    --queues "$q" --queue-size "$QUEUE_SIZE" --log-level debug "$@"
  # Stop waiting as soon as the server is gone: a failed start costs no 90 s.
  poll 90 attached_or_gone "$bg" || true
  if ! grep -q '"msg":"device attached"' "$(bg_log "$bg")"; then
    show_log "$bg"; bench_error "vduse-blk serve did not log 'device attached' for $name" "${SRV_LABEL[$key]}" "$q"; return 1
  fi
  dev="$(grep -m1 '"msg":"device attached"' "$(bg_log "$bg")" | sed -n 's/.*"blockDevice":"\([^"]*\)".*/\1/p')"
  if [ -z "$dev" ] || [ ! -b "$dev" ]; then
    show_log "$bg"; bench_error "vduse-blk serve reported no usable block device ('$dev')" "${SRV_LABEL[$key]}" "$q"; return 1
  fi
  SRV_DEV[$key]="$dev"
  if [ $# -gt 0 ]; then
    poll 30 _irq_lines_ge "$(bg_log "$bg")" "$q" || true
    log "$bg: $(grep -c '"msg":"queue IRQ pinned"' "$(bg_log "$bg")") 'queue IRQ pinned' line(s)," \
      "$(grep -c '"done":false' "$(bg_log "$bg")") without irq_cb_affinity"
  fi
}

_irq_lines_ge() { [ "$(grep -Ec '"msg":"(queue IRQ pinned|kernel has no irq_cb_affinity)"' "$1")" -ge "$2" ]; }

stop_server() {  # stop_server KEY QUEUES
  local key="$1" q="$2" bg="${SRV_BG[$1]}" name="${SRV_NAME[$1]}" rc=0
  bg_alive "$bg" || { show_log "$bg"; bench_error "$bg exited before the end of its phase" "${SRV_LABEL[$key]}" "$q"; }
  if [ "${SRV_LABEL[$key]}" = qsd ] && [ -e "/sys/bus/vdpa/devices/$name" ]; then
    timeout -k 5 60 vdpa dev del "$name" || bench_error "vdpa dev del $name failed" qsd "$q"
    poll 30 test ! -e "/sys/bus/vdpa/devices/$name" || bench_error "vdpa device $name still there" qsd "$q"
  fi
  [ -n "${_VM_BG_PID[$bg]:-}" ] || return 0
  stop_bg "$bg" TERM 60 || rc=$?
  # qemu-storage-daemon exits 0 on SIGTERM, as does our server.
  [ "$rc" -eq 0 ] || { show_log "$bg"; bench_error "$bg exited with status $rc after SIGTERM" "${SRV_LABEL[$key]}" "$q"; }
  log "$bg stopped (status $rc)"
  # Our server's per-queue totals over the phase (requests, kicks, irqs, ...), from its debug log.
  grep '"msg":"queue stopped"' "$(bg_log "$bg")" 2>/dev/null | while read -r line; do
    log "  $bg: $(jq -c '{queue, requests, kicks, irqs, errors}' <<<"$line" 2>/dev/null || echo "$line")"
  done || true
}

# ------------------------------------------------------------------ fio
jobs_for() {  # jobs_for QUEUES
  local j all=(randread-4k-qd1 randread-4k-qd32 randwrite-4k-qd32 read-128k-qd8)
  [ "$1" -gt 1 ] && all+=("randread-4k-qd32-x$1")
  for j in "${all[@]}"; do
    if [ -z "$JOB_FILTER" ]; then echo "$j"; continue; fi
    local f; for f in $JOB_FILTER; do [[ "$j" == *"$f"* ]] && { echo "$j"; break; }; done
  done
}

run_fio() {  # run_fio KEY QUEUES JOB JOBIDX POS ROUND
  local key="$1" q="$2" job="$3" jidx="$4" pos="$5" round="$6"
  local dev="${SRV_DEV[$key]}" bg="${SRV_BG[$key]}" label="${SRV_LABEL[$key]}"
  local out="$VM_LOG_DIR/fio-q$q-$job-$key-r$round.json" rc=0 pid c0 c1 t0 t1 g0 g1
  local -a args; mapfile -t args < <(job_args "$job" "$q")
  SEQ=$((SEQ + 1))
  bg_alive "$bg" || { bench_error "$label is not running; skipping $job" "$label" "$q" "$job"; return 0; }
  pid="$(bg_pid "$bg")"
  log "run $SEQ: q=$q $job on $label ($dev)$([ "$ROUNDS" -gt 1 ] && echo ", round $round")"
  thread_ticks "$pid" >"$out.t0"
  c0="$(cpu_ticks "$pid")"; g0="$(guest_ticks)"; t0="$(date +%s.%N)"
  timeout -k 10 $((RUNTIME + RAMP + 90)) fio --name="$job" --filename="$dev" --ioengine=libaio --direct=1 \
    --time_based --runtime="$RUNTIME" --ramp_time="$RAMP" --norandommap --randrepeat=0 \
    --group_reporting --lat_percentiles=1 --percentile_list=50:99:99.9 \
    --output-format=json --output="$out" "${args[@]}" >"$out.stderr" 2>&1 || rc=$?
  c1="$(cpu_ticks "$pid")"; g1="$(guest_ticks)"; t1="$(date +%s.%N)"
  thread_ticks "$pid" >"$out.t1"
  if [ "$rc" -ne 0 ] || ! jq -e '.jobs[0]' "$out" >/dev/null 2>&1; then
    cat "$out.stderr" >&2 || true
    bench_error "fio $job on $label exited with status $rc" "$label" "$q" "$job"
    return 0
  fi
  local meta threads threads_sys
  threads="$(thread_cpu_json "$out.t0" "$out.t1")"; threads_sys="$(thread_cpu_json "$out.t0" "$out.t1" 3)"
  meta="$(jq -cn --arg job "$job" --arg queues "$q" --arg server "$label" --arg key "$key" --arg dev "$dev" \
    --arg seq "$SEQ" --arg jidx "$jidx" --arg pos "$pos" --arg round "$round" --arg ticks "$((c1 - c0))" --arg hz "$CLK_TCK" \
    --arg t0 "$t0" --arg t1 "$t1" --argjson threads "$threads" \
    --argjson threads_sys "$threads_sys" --argjson guest_cpu "$(guest_cpu_json "$g0" "$g1")" \
    --argjson sleeps "$(thread_sleeps_json "$out.t0" "$out.t1")" \
    '{job: $job, queues: ($queues|tonumber), server: $server, key: $key, dev: $dev, seq: ($seq|tonumber),
      job_index: ($jidx|tonumber), position: ($pos|tonumber), round: ($round|tonumber),
      server_cpu_s: (($ticks|tonumber) / ($hz|tonumber)), server_thread_cpu_s: $threads, server_thread_sys_s: $threads_sys,
      server_thread_sleeps: $sleeps, guest_cpu_s: $guest_cpu, wall_s: (($t1|tonumber) - ($t0|tonumber))}')"
  emit VDUSE_BENCH_RESULT "$(jq -c --argjson meta "$meta" '{meta: $meta, fio: .}' "$out")"
  log "  $(jq -r '.jobs[0] | (if .write.iops > .read.iops then .write else .read end)
    | "\(.iops | floor) IOPS, mean latency \(.lat_ns.mean / 1000 | floor) us"' "$out"), server CPU $(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }') s"
  local by_value='to_entries | sort_by(-.value) | map("\(.key)=\(.value)") | join(" ")'
  log "  server threads (CPU s): $(jq -r "$by_value" <<<"$threads")" "(in the kernel: $(jq -r "$by_value" <<<"$threads_sys"))"
}

warm_up() {  # warm_up KEY QUEUES: unmeasured I/O on a freshly attached server
  local key="$1" q="$2" rc=0
  [ "$WARMUP" -gt 0 ] || return 0
  log "warm-up: ${WARMUP}s 4k randrw QD16 + ${WARMUP}s 128k read QD8 on ${SRV_LABEL[$key]} (${SRV_DEV[$key]})"
  timeout -k 10 $((2 * WARMUP + 90)) fio --filename="${SRV_DEV[$key]}" --ioengine=libaio --direct=1 --time_based \
    --runtime="$WARMUP" --norandommap --randrepeat=0 --output="$VM_LOG_DIR/warmup-$key-q$q.txt" \
    --name=w4k --rw=randrw --bs=4k --iodepth=16 --name=w128k --stonewall --rw=read --bs=128k --iodepth=8 \
    >/dev/null 2>&1 || rc=$?
  [ "$rc" -eq 0 ] || { cat "$VM_LOG_DIR/warmup-$key-q$q.txt" >&2 || true
    bench_error "warm-up fio on ${SRV_LABEL[$key]} exited with status $rc" "${SRV_LABEL[$key]}" "$q" warmup; }
}

# ------------------------------------------------------------------ phases
phase=0
for q in $QUEUES; do
  [ "$q" -le "$(nproc)" ] || log "note: $q queues on $(nproc) CPUs: virtio_blk uses min(queues, CPUs) hardware queues"
  SRV_BG=(); SRV_NAME=(); SRV_DEV=(); SRV_LABEL=()
  keys=(qsd ours)
  [ "$POLL_US" -gt 0 ] && keys+=(ourspoll)
  [ -n "$VARIANT_ENV$VARIANT_CLI" ] && keys+=(oursenv)
  [ "$q" -gt 1 ] && [ "$CPUS_VARIANT" = 1 ] && keys+=(ourscpus)
  started=()
  for key in "${keys[@]}"; do
    case "$key" in
      qsd) start_qsd qsd "$q" && started+=(qsd) ;;
      ours) start_ours ours "$q" && started+=(ours) ;;
      ourscpus) start_ours ourscpus "$q" --cpus "$(seq -s, 0 $((q - 1)))" && started+=(ourscpus) ;;
      ourspoll) start_ours ourspoll "$q" --poll-us "$POLL_US" && started+=(ourspoll) ;;
      oursenv) OURS_ENV="$VARIANT_ENV" OURS_CLI="$VARIANT_CLI" start_ours oursenv "$q" && started+=(oursenv) ;;
    esac
  done
  for key in "${started[@]}"; do
    log "phase q=$q: ${SRV_LABEL[$key]} on ${SRV_DEV[$key]} ($(ls "/sys/block/${SRV_DEV[$key]#/dev/}/mq" | wc -l) hw queues)"
  done
  for key in "${started[@]}"; do warm_up "$key" "$q"; done
  for ((round = 1; round <= ROUNDS; round++)); do
    jidx=0
    for job in $(jobs_for "$q"); do
      # forward, reversed, forward, ...; the first direction alternates per phase and per round
      order=("${started[@]}")
      if [ $(((jidx + phase + round - 1) % 2)) -eq 1 ]; then
        order=(); for ((i = ${#started[@]} - 1; i >= 0; i--)); do order+=("${started[$i]}"); done
      fi
      pos=0
      for key in "${order[@]}"; do run_fio "$key" "$q" "$job" "$jidx" "$pos" "$round"; pos=$((pos + 1)); done
      jidx=$((jidx + 1))
    done
  done
  for key in "${keys[@]}"; do
    [ -n "${SRV_BG[$key]:-}" ] && stop_server "$key" "$q"
  done
  phase=$((phase + 1))
done

emit VDUSE_BENCH_DONE "{\"errors\":$ERRORS,\"runs\":$SEQ}"
[ "$ERRORS" -eq 0 ]
