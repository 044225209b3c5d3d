/**
 * CPU time of this process's threads by name, from /proc/self/task/TID:
 * schedstat's run time in nanoseconds where the kernel has it, else
 * utime+stime from stat in clock ticks. The benchmark uses it to charge the
 * queue workers ("vduse-qN") their CPU time per request; the polling test to
 * see that an idle queue stops spinning.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICK_NS = 1e9 / 100; // USER_HZ is 100 on every Linux ABI Node supports

function threadNs(tid: string): number {
  try {
    return Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    // stat: fields after the ')' of comm; utime and stime are the 12th and 13th of those.
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_NS;
  }
}

/** Total CPU nanoseconds of the threads whose name starts with `prefix`. */
export function threadCpuNs(prefix: string): number {
  let total = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').startsWith(prefix)) total += threadNs(tid);
    } catch {
      // The thread exited meanwhile.
    }
  }
  return total;
}

/** Whether {@link threadCpuNs} is precise (schedstat, ns) rather than in 10 ms ticks. */
export function threadCpuIsPrecise(): boolean {
  try {
    readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8');
    return true;
  } catch {
    return false;
  }
}
