/**
 * One loopback benchmark job on one backend, as `npm run bench` and `npm
 * run bench:ab` run it: a device on the loopback kernel (the product's
 * control plane, queue workers and backend), its queues handed to the
 * native driver engine, driven for one round at a time.
 */
import { startLoopback as ourStartLoopback, type Fixture, type FixtureOptions } from '../test/helpers/loopback-fixture.js';
import { bufferBytesFor, runJob } from './native-driver.js';
import { threadCpuNs } from '../test/helpers/thread-cpu.js';
import { copyFloorNs } from './copy-floor.js';
import type { RoundSample } from './rounds.js';
import type { NativeQueueHandle } from '../src/loopback/blk-driver.js';

export interface Job { name: string; op: 'read' | 'write'; bs: number; random: boolean; qd: number; queues: number }
export type Backend = 'null' | 'memory' | 'file';
export const BACKENDS: readonly Backend[] = ['null', 'memory', 'file'];

/** The disk every job runs on (the memory disk is written in full first; the file stays sparse). */
export const DISK_SIZE = 256 << 20;

/** How a build starts a loopback device: `test/helpers/loopback-fixture.ts`'s startLoopback. */
export type StartLoopback = (o: FixtureOptions) => Promise<Fixture>;

/** 4k random and 128k sequential reads and writes at each depth, on 1 and 2 queues; those whose label matches `only`. */
export function jobsFor(depths: readonly number[], only?: RegExp): Job[] {
  const kinds = [
    { name: '4k-randread', op: 'read', bs: 4096, random: true },
    { name: '4k-randwrite', op: 'write', bs: 4096, random: true },
    { name: '128k-seqread', op: 'read', bs: 131072, random: false },
    { name: '128k-seqwrite', op: 'write', bs: 131072, random: false },
  ] as const;
  const out: Job[] = [];
  for (const queues of [1, 2]) {
    for (const qd of depths) {
      for (const k of kinds) out.push({ ...k, qd, queues });
    }
  }
  return out.filter((j) => only === undefined || only.test(label(j)));
}

/** Queue depths from a `--qd` list: whole numbers 1..256. */
export function parseDepths(list: string): number[] {
  const depths = list.split(',').map(Number);
  if (depths.some((d) => !Number.isInteger(d) || d < 1 || d > 256)) throw new Error(`--qd: ${list}: depths are 1..256`);
  return depths;
}

export function label(j: Job): string {
  return `${j.name} q${j.queues} qd${j.qd}`;
}

/** One backend's device for a job, set up once and driven for every round. */
export interface Bench {
  backend: Backend;
  fixture: Fixture;
  handles: NativeQueueHandle[];
  /** Memory backend: its copies alone, ns per request (with `copyFloor`). */
  copyNs?: number;
}

export interface OpenOptions {
  /** Start the device with another build's fixture (bench:ab); default this build's. */
  start?: StartLoopback;
  /** Memory backend: time its copies alone (copy-floor.ts). */
  copyFloor?: boolean;
}

export async function openBench(job: Job, backend: Backend, o: OpenOptions = {}): Promise<Bench> {
  const start = o.start ?? ourStartLoopback;
  const fixture = await start({
    backend: backend === 'file' ? 'file' : 'memory',
    shape: { queues: job.queues, size: DISK_SIZE, queueSize: 256 },
    memory: { size: 64 << 20 },
    ...(backend === 'null' ? { backendOverride: { kind: 'module' as const,
      specifier: new URL('./null-backend.js', import.meta.url).href, options: { size: DISK_SIZE } } } : {}),
  });
  try {
    let copyNs: number | undefined;
    if (backend === 'memory') {
      prefill(fixture);
      if (o.copyFloor === true) copyNs = copyFloorNs(job, fixture.disk());
    }
    const handles = Array.from({ length: job.queues }, (_, q) => fixture.driver.handOff(q, bufferBytesFor(job.qd, job.bs)));
    return { backend, fixture, handles, ...(copyNs === undefined ? {} : { copyNs }) };
  } catch (err) {
    await fixture.close();
    throw err;
  }
}

/** One round of `job` on `bench`. */
export async function measure(job: Job, bench: Bench, seconds: number): Promise<RoundSample> {
  // Only this bench's workers are busy: the other devices' queues sleep on their kicks.
  const cpu0 = threadCpuNs('vduse-q');
  const n0 = notifications(bench.fixture);
  const r = await runJob(bench.handles, { op: job.op, bs: job.bs, qd: job.qd, random: job.random, seconds,
    capacitySectors: DISK_SIZE / 512 });
  const deviceNs = threadCpuNs('vduse-q') - cpu0;
  const n1 = notifications(bench.fixture);
  const served = r.ios + r.drained;
  const iops = r.ios / r.seconds;
  return { iops, mibps: (iops * job.bs) / (1 << 20), meanUs: r.latencyNs.mean / 1000, p99Us: r.latencyNs.p99 / 1000,
    deviceCpuUs: deviceNs / 1000 / served, kicksPerIo: (n1.kicks - n0.kicks) / served,
    irqsPerIo: (n1.irqs - n0.irqs) / served, errors: r.errors };
}

/** Kicks and IRQs so far, over every queue of the device (the server's counters). */
function notifications(f: Fixture): { kicks: number; irqs: number } {
  let kicks = 0;
  let irqs = 0;
  for (const q of f.server.stats()) {
    kicks += Number(q.kicks);
    irqs += Number(q.irqs);
  }
  return { kicks, irqs };
}

/**
 * Writes every byte of the RAM disk before a job, so reads copy real data:
 * a never-written disk hands out zero pages (a SharedArrayBuffer's reads
 * all hit the one shared zero page, in cache; a memfd's allocate a page on
 * first touch), which a user's disk does not. Files stay sparse: a hole
 * reads into a real page-cache page already. (Filled with 1 MiB writes and
 * fdatasync'd, an ext4 file on the 6.18 benchmark host took ~19 us of CPU
 * per 4k pwrite afterwards, 3x the sparse file's, whatever did the writes:
 * a property of that page-cache state, not of the server.)
 */
function prefill(f: Fixture): void {
  const chunk = new Uint8Array(1 << 20);
  for (let i = 0; i < chunk.length; i += 4096) chunk.fill((i >> 12) + 1, i, i + 4096);
  const disk = f.disk();
  for (let at = 0; at < disk.length; at += chunk.length) disk.set(chunk.subarray(0, disk.length - at), at);
}
