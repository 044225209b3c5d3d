/**
 * The native benchmark driver (build/Release/vduse_bench.node, sources in
 * bench/native/): drives queues handed off by
 * {@link LoopbackBlkDriver.handOff} from one C++ thread per queue, so the
 * harness is not what limits a loopback benchmark. The JS thread stays free
 * while a job runs (the device's control plane lives on it).
 *
 * Usage:
 *   const h = f.driver.handOff(0, bufferBytesFor(qd, 4096));
 *   const r = await runJob([h], { op: 'read', bs: 4096, qd, random: true, seconds: 2, capacitySectors });
 */
import { createRequire } from 'node:module';
import type { NativeQueueHandle } from '../src/loopback/blk-driver.js';

export interface NativeJob {
  op: 'read' | 'write';
  /** Request size in bytes (a multiple of 512). */
  bs: number;
  /** Requests kept in flight on each queue. */
  qd: number;
  /** Random bs-aligned blocks, or sequential per queue (queue i starts at i/queues of the disk), wrapping. */
  random: boolean;
  seconds: number;
  /** The device's capacity in 512-byte sectors. */
  capacitySectors: number;
  /** PRNG seed for random jobs (default 1). */
  seed?: number;
  /**
   * Reads: count blocks that do not start with their own sector number. Writes
   * always stamp it into the first 8 bytes (the rest of each request is the
   * byte (slot + 1) & 0xff), so a sequential write job over the whole disk
   * prepares it for verified reads.
   */
  verify?: boolean;
  /** Busy-poll used.idx this many µs before sleeping on the IRQ eventfd (default 0). */
  spinUs?: number;
  /** How long to wait for in-flight requests after the stop (default 2 s). */
  drainSeconds?: number;
}

export interface NativeQueueStats {
  queue: number;
  ios: number;
  /** Eventfd writes to the device (after kick suppression). */
  kicks: number;
  /** poll(2) sleeps on the IRQ eventfd. */
  sleeps: number;
  /** Interrupts the device raised (sum of the eventfd counter). */
  irqs: number;
  /** CPU time of this queue's thread. */
  cpuSeconds: number;
  unfinished: number;
  availIdx: number;
  lastUsedIdx: number;
}

export interface NativeJobResult {
  /** Requests completed before the stop time. */
  ios: number;
  /** Start to stop time. */
  seconds: number;
  /** Per request, submit to reap (~3% histogram resolution). */
  latencyNs: { mean: number; p50: number; p99: number; p999: number; max: number };
  /** Status byte not 0, or a used length other than the request's writable bytes. */
  errors: number;
  verifyErrors: number;
  /** Completions after the stop time (not in `ios`). */
  drained: number;
  unfinished: number;
  /** CPU time of the engine's queue threads, together. */
  cpuSeconds: number;
  queues: NativeQueueStats[];
}

interface BenchAddon {
  runJob(queues: readonly NativeQueueHandle[], job: NativeJob): Promise<NativeJobResult>;
  bufferBytes(qd: number, bs: number): number;
}

const require = createRequire(import.meta.url);
let cached: BenchAddon | null = null;

function addon(): BenchAddon {
  // dist/bench/native-driver.js → ../../build/Release
  cached ??= require('../../build/Release/vduse_bench.node') as BenchAddon;
  return cached;
}

/** Handles in a job now, and handles whose ring state is unknown (a job failed or left requests behind). */
const busy = new WeakSet<NativeQueueHandle>();
const broken = new WeakSet<NativeQueueHandle>();

/** Guest memory a handed-off queue needs for `qd` requests of `bs` bytes. */
export function bufferBytesFor(qd: number, bs: number): number {
  return addon().bufferBytes(qd, bs);
}

/** Runs `job` on every queue at once; rejects when the device broke the ring protocol. */
export async function runJob(queues: readonly NativeQueueHandle[], job: NativeJob): Promise<NativeJobResult> {
  for (const h of queues) {
    if (busy.has(h)) throw new Error(`queue ${h.queue} is already running a job`);
    if (broken.has(h)) throw new Error(`queue ${h.queue} was left in an unknown state by an earlier job`);
  }
  if (new Set(queues).size !== queues.length) throw new Error('a queue is listed twice');
  for (const h of queues) busy.add(h);
  let result: NativeJobResult;
  try {
    result = await addon().runJob(queues, job);
  } catch (err) {
    // Arguments are checked before anything is submitted; later failures leave the ring unknown.
    if (!(err instanceof TypeError || err instanceof RangeError)) for (const h of queues) broken.add(h);
    throw err;
  } finally {
    for (const h of queues) busy.delete(h);
  }
  result.queues.forEach((s, i) => {
    const h = queues[i]!;
    h.availIdx = s.availIdx;
    h.lastUsedIdx = s.lastUsedIdx;
    if (s.unfinished > 0) broken.add(h);
  });
  if (result.unfinished > 0) {
    throw new Error(`${result.unfinished} requests were still in flight ${job.drainSeconds ?? 2} s after the stop`);
  }
  return result;
}
