/**
 * CPU lists in the kernel's cpulist format ("0-3,8"), used both for --cpus
 * and for /sys/devices/system/cpu/online, so what the user types and what the
 * kernel reports are read by the same rules.
 */
import { readFileSync } from 'node:fs';

export const ONLINE_CPUS_PATH = '/sys/devices/system/cpu/online';

/** Far above any kernel's NR_CPUS (8192 at most); only keeps "0-99999999" from allocating a huge array. */
export const MAX_CPU_NUMBER = 65535;

/**
 * "4-7,9" → [4, 5, 6, 7, 9], in the order written (queue i gets the i-th
 * entry, so order matters). Rejects empty entries, reversed ranges and
 * repeats. Throws Error with a message meant for users.
 */
export function parseCpuList(text: string): number[] {
  const list = text.trim(); // sysfs files end in a newline
  if (list === '') throw new Error('empty CPU list');
  const cpus: number[] = [];
  const seen = new Set<number>();
  for (const part of list.split(',')) {
    if (part === '') throw new Error(`empty entry in CPU list '${list}'`);
    const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(part);
    if (m === null) throw new Error(`'${part}' in CPU list '${list}' is not a CPU number or a range like 4-7`);
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (first > MAX_CPU_NUMBER || last > MAX_CPU_NUMBER) {
      throw new Error(`CPU number in '${part}' is too large (at most ${MAX_CPU_NUMBER})`);
    }
    if (last < first) throw new Error(`range '${part}' in CPU list '${list}' is reversed (write ${last}-${first})`);
    for (let cpu = first; cpu <= last; cpu++) {
      if (seen.has(cpu)) throw new Error(`CPU ${cpu} appears more than once in CPU list '${list}'`);
      seen.add(cpu);
      cpus.push(cpu);
    }
  }
  return cpus;
}

/** The inverse of parseCpuList for messages and logs: [0,1,2,3,8] → "0-3,8". */
export function formatCpuList(cpus: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < cpus.length; ) {
    const first = cpus[i] as number;
    let j = i;
    while (j + 1 < cpus.length && cpus[j + 1] === (cpus[j] as number) + 1) j++;
    const last = cpus[j] as number;
    parts.push(last === first ? `${first}` : `${first}-${last}`);
    i = j + 1;
  }
  return parts.join(',');
}

/**
 * The CPUs that are online now. os.availableParallelism() would not do:
 * it counts CPUs, and with offlined or isolated CPUs the numbers are not
 * 0..n-1.
 */
export function readOnlineCpus(path: string = ONLINE_CPUS_PATH): number[] {
  return parseCpuList(readFileSync(path, 'utf8'));
}

/** Round robin: queue i runs on the i-th CPU of the list, wrapping when there are more queues than CPUs. */
export function cpuForQueue(cpus: readonly number[], queue: number): number {
  if (cpus.length === 0) throw new RangeError('empty CPU list');
  return cpus[queue % cpus.length] as number;
}
