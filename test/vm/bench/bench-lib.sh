# What the guest benchmarks share (sourced by guest-bench.sh and
# guest-profile.sh after ../lib.sh): the fio jobs, one name and one set of
# arguments in both, and per-thread CPU snapshots of a server.
CLK_TCK="$(getconf CLK_TCK)"

job_args() {  # job_args JOB QUEUES: prints the job-specific fio arguments, one per line
  case "$1" in
    randread-4k-qd1) printf '%s\n' --rw=randread --bs=4k --iodepth=1 --numjobs=1 ;;
    randread-4k-qd32) printf '%s\n' --rw=randread --bs=4k --iodepth=32 --numjobs=1 ;;
    randwrite-4k-qd32) printf '%s\n' --rw=randwrite --bs=4k --iodepth=32 --numjobs=1 ;;
    read-128k-qd8) printf '%s\n' --rw=read --bs=128k --iodepth=8 --numjobs=1 ;;
    randread-4k-qd32-x*) printf '%s\n' --rw=randread --bs=4k --iodepth=32 --numjobs="$2" \
        --cpus_allowed="0-$(($2 - 1))" --cpus_allowed_policy=split ;;
    *) fail "unknown job $1" ;;
  esac
}
# thread_ticks PID: "COMM<TAB>utime+stime<TAB>stime<TAB>voluntary context switches<TAB>TID<TAB>minor
# faults" for each thread (COMM may hold blanks); a voluntary switch is the thread going to sleep
# (then a wake-up); a minor fault, a page mapped on first touch (fresh heap pages, zero-filled)
thread_ticks() {
  local t st comm sleeps
  for t in /proc/"$1"/task/*; do
    st="$(cat "$t/stat" 2>/dev/null)" || continue
    # (io-wq threads come and go: one may exit between the two reads)
    sleeps="$(awk '/^voluntary_ctxt_switches/ {print $2}' "$t/status" 2>/dev/null)" || sleeps=0
    comm="${st#*(}"; comm="${comm%)*}"
    # shellcheck disable=SC2086
    set -- ${st##*) }   # $1 = state (field 3): minflt is field 10; utime, stime are fields 14, 15
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$comm" $((${12} + ${13})) "${13}" "${sleeps:-0}" "${t##*/}" "${8}"
  done
}
# thread_delta_json BEFORE AFTER COLUMN DIVISOR FORMAT: {"comm": value, ...} of how much COLUMN
# of two thread_ticks snapshots grew, per thread name, divided by DIVISOR. Thread by thread: one
# that started meanwhile counts from 0; one that exited (as a thread pool's idle threads do) is
# not counted.
thread_delta_json() {
  awk -F'\t' -v c="$3" -v d="$4" -v f="$5" 'NR == FNR { b[$5] = $c; next } { n[$1] += $c - ($5 in b ? b[$5] : 0) }
    END { for (k in n) if (n[k] > 0) printf "%s\t" f "\n", k, n[k] / d }' "$1" "$2" |
    jq -R -s -c 'split("\n") | map(select(length > 0) | split("\t") | {(.[0]): (.[1] | tonumber)}) | add // {}'
}
# thread_cpu_json BEFORE AFTER [COLUMN]: CPU seconds per thread name; COLUMN 3: in the kernel only
thread_cpu_json() { thread_delta_json "$1" "$2" "${3:-2}" "$CLK_TCK" '%.2f'; }
