/**
 * The memory backend's data copy alone, as a job moves it: the same
 * MemoryBackend.readv / writev over the job's disk, its block size, its
 * pattern (random or sequential) and a job's worth of destination buffers
 * (QD of them, in turn), on one thread, with no queue, ring or driver. What
 * it measures per request is a floor under what the memory backend adds to
 * the null device's cost: where the device thread is the limit (deep
 * queues), memory IOPS cannot exceed 1 / (null device time + this), and so
 * that over the null ceiling bounds "memory / ceiling" on this host.
 */
import { createMemoryDisk } from '../src/control/memory-disk.js';
import { MemoryBackend } from '../src/workers/backends/memory.js';

export interface CopyJob {
  op: 'read' | 'write';
  bs: number;
  random: boolean;
  qd: number;
}

/**
 * Nanoseconds per request for `job`'s copies on `disk` (whose bytes are
 * read or overwritten: a benchmark disk), best of three rounds of `ms`.
 */
export function copyFloorNs(job: CopyJob, disk: Uint8Array, ms = 250): number {
  const backend = new MemoryBackend(disk);
  // Page-aligned buffers in a memfd, as the loopback guest's are. Not a
  // heap ArrayBuffer, whose data may start a few bytes into a page: on an
  // AMD EPYC host (2026-12-04) reads from the page-aligned disk into one
  // cost 3-5x as much as into aligned memory (128 KiB: 66-70 against 13
  // us; 4 KiB: 3.5 against 0.9), which no device copy pays.
  const destination = createMemoryDisk(job.qd * job.bs, 'vduse-blk-copy-floor');
  try {
    destination.bytes.fill(0); // every page in place before the clock starts
    return timeCopies(job, backend, disk.length, destination.bytes, ms);
  } finally {
    destination.close();
  }
}

function timeCopies(job: CopyJob, backend: MemoryBackend, diskBytes: number, buffers: Uint8Array, ms: number): number {
  const slots = Array.from({ length: job.qd }, (_, i) => [buffers.subarray(i * job.bs, (i + 1) * job.bs)]);
  const blocks = Math.floor(diskBytes / job.bs);
  let seed = 1;
  let next = 0;
  const offset = (): number => {
    if (!job.random) return (next++ % blocks) * job.bs;
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; // an LCG (mod 2^32: imul keeps the low bits exact)
    return (seed % blocks) * job.bs;
  };
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    let n = 0;
    const start = performance.now();
    const end = start + ms;
    let now = start;
    while (now < end) {
      // 256 requests between clock reads: the clock is not what is measured.
      for (let i = 0; i < 256; i++, n++) {
        const bufs = slots[n % job.qd]!;
        if (job.op === 'read') backend.readv(offset(), bufs);
        else backend.writev(offset(), bufs);
      }
      now = performance.now();
    }
    best = Math.min(best, ((now - start) * 1e6) / n);
  }
  return best;
}

/**
 * The most a backend that adds `copyNs` per request to the null device's
 * `deviceNs` (CPU per request, on each of `threads` queue threads) can
 * reach, as a fraction of the null ceiling `ceilingIops`: 1 where the
 * driver side limits the ceiling and the device threads have room for the
 * copy, c / (c + m) where they are the limit. An estimate, not a proof: it
 * takes the null job's per-request device time as it was at that job's
 * batching, and the copy as it costs alone (in the job, the copy also
 * evicts the rings' and the heap's cache lines, so it costs more).
 */
export function copyBoundOfCeiling(ceilingIops: number, deviceNs: number, copyNs: number, threads = 1): number {
  return Math.min(ceilingIops, (threads * 1e9) / (deviceNs + copyNs)) / ceilingIops;
}
