/**
 * Points a queue's interrupt work at a CPU through
 * /sys/class/vduse/NAME/vqN/irq_cb_affinity (Linux 6.4+; reference §2). The
 * kernel runs VQ_INJECT_IRQ's work on a CPU of that mask, so pointing it at
 * the queue worker's CPU keeps a request's completion on one core.
 */
import { writeFile } from 'node:fs/promises';
import { errnoCode } from '../shared/errors.js';

/** The kernel's cpumask text for one CPU: hex, comma-separated 32-bit groups, most significant first. */
export function cpumaskOf(cpu: number): string {
  const groups = new Array<string>(Math.floor(cpu / 32) + 1).fill('00000000');
  groups[0] = (1 << (cpu % 32) >>> 0).toString(16).padStart(8, '0');
  return groups.join(',');
}

/**
 * Writes the mask; resolves false when the kernel has no such file (before
 * 6.4, or not a VDUSE device), true when it took the value.
 */
export async function setIrqAffinity(name: string, queue: number, cpu: number, sysfs = '/sys'): Promise<boolean> {
  try {
    await writeFile(`${sysfs}/class/vduse/${name}/vq${queue}/irq_cb_affinity`, cpumaskOf(cpu));
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}
