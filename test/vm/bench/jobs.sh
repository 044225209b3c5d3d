# The fio jobs of the guest benchmarks (sourced by guest-bench.sh and
# guest-profile.sh): one name, one set of arguments, in both.
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
