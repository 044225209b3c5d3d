/**
 * What one wake-up of a device thread costs, with nothing else on it: a C
 * driver thread (bench/native/wake.cc) bounces a token over two eventfds,
 * as a kick and an IRQ do, and the device side is, in turn:
 * - `c`: a C thread blocking in poll(2), read and write: the floor, what a
 *   C server's wake-up costs;
 * - `watch`: a Node worker thread watching the kick eventfd on its event
 *   loop through the product's addon (native().watch, as a queue worker
 *   does), reading it and writing the IRQ eventfd in the callback;
 * - `immediate`: the same, the write deferred with setImmediate (how a
 *   queue flushes completions of an asynchronous backend);
 * - `microtask`: the same, the write deferred with queueMicrotask;
 * - `block`: a Node worker thread that never returns to its event loop: a
 *   JavaScript loop blocking in the addon's poll(2) on the kick eventfd (and
 *   a stop eventfd), then read and write, as a queue worker that waits in
 *   the addon instead of on libuv would.
 * Each round runs every mode once, in turn; the table has the medians of the
 * device thread's CPU time per round trip (µs) and of the round trips per
 * second. Natively the modes differ by a few µs; in the TCG guest
 * (`npm run bench:vm:wake`) the runtime's share is what it costs there.
 *
 * Usage: node dist/bench/wake-cost.js [--seconds S] [--rounds N] [--modes c,watch,immediate,microtask]
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { native } from '../src/shared/native.js';
import { threadCpuNs } from '../test/helpers/thread-cpu.js';
import { median } from './rounds.js';

export const WAKE_MODES = ['c', 'watch', 'immediate', 'microtask', 'block'] as const;
export type WakeMode = (typeof WAKE_MODES)[number];

interface WakeAddon {
  wakeRun(pingFd: number, pongFd: number, seconds: number, cDevice: boolean):
    Promise<{ roundTrips: number; seconds: number; deviceCpuNs: number }>;
}

interface DeviceData { mode: Exclude<WakeMode, 'c'>; ping: number; pong: number; stop: number }

/** One mode's run: device CPU per round trip and round trips per second. */
export interface WakeSample { mode: WakeMode; usPerWake: number; perSecond: number }

const DEVICE_THREAD = 'wake-dev';
/** What each side writes to an eventfd: a counter of 1. */
const ONE = new Uint8Array(new BigUint64Array([1n]).buffer);

/** The Node device: answers every ping on this thread's event loop. */
function runDevice({ mode, ping, pong, stop }: DeviceData): void {
  const n = native();
  n.setThreadName(DEVICE_THREAD);
  const counter = new Uint8Array(8);
  const answer = (): void => { n.write(pong, ONE); };
  if (mode === 'block') {
    parentPort!.postMessage('ready');
    const fds = [ping, stop];
    const events = [n.constants.POLLIN, n.constants.POLLIN];
    for (;;) {
      const revents = n.poll(fds, events, -1);
      if (revents[1] !== 0) break;
      if (n.read(ping, counter) > 0) answer();
    }
    parentPort!.close();
    return;
  }
  const watcher = n.watch(ping, n.constants.UV_READABLE, () => {
    if (n.read(ping, counter) <= 0) return;
    if (mode === 'immediate') setImmediate(answer);
    else if (mode === 'microtask') queueMicrotask(answer);
    else answer();
  });
  parentPort!.on('message', () => {
    watcher.close();
    parentPort!.close();
  });
  parentPort!.postMessage('ready');
}

/** One run of `mode` for `seconds`. */
export async function runWakeMode(mode: WakeMode, seconds: number): Promise<WakeSample> {
  const n = native();
  const { EFD_NONBLOCK, EFD_CLOEXEC } = n.constants;
  const require = createRequire(import.meta.url);
  // dist/bench/wake-cost.js → ../../build/Release
  const addon = require('../../build/Release/vduse_bench.node') as WakeAddon;
  const ping = n.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  const pong = n.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  // Ends a `block` device, which never looks at its messages.
  const stop = n.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  try {
    if (mode === 'c') {
      const r = await addon.wakeRun(ping, pong, seconds, true);
      return { mode, usPerWake: r.deviceCpuNs / 1000 / r.roundTrips, perSecond: r.roundTrips / r.seconds };
    }
    const device = new Worker(new URL(import.meta.url), { workerData: { mode, ping, pong, stop } satisfies DeviceData });
    const exited = new Promise<void>((resolve) => device.once('exit', () => resolve()));
    try {
      await new Promise<void>((resolve, reject) => {
        device.once('message', () => resolve());
        device.once('error', reject);
      });
      const cpu0 = threadCpuNs(DEVICE_THREAD);
      const r = await addon.wakeRun(ping, pong, seconds, false);
      const cpuNs = threadCpuNs(DEVICE_THREAD) - cpu0;
      return { mode, usPerWake: cpuNs / 1000 / r.roundTrips, perSecond: r.roundTrips / r.seconds };
    } finally {
      device.postMessage('stop');
      n.write(stop, ONE);
      await exited;
    }
  } finally {
    n.close(ping);
    n.close(pong);
    n.close(stop);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    seconds: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    modes: { type: 'string', default: WAKE_MODES.join(',') },
  } });
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  if (!(seconds > 0 && seconds <= 3600)) throw new Error(`--seconds ${values.seconds}: a positive number of seconds`);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds ${values.rounds}: a whole number ≥ 1`);
  const modes = values.modes.split(',');
  for (const m of modes) {
    if (!(WAKE_MODES as readonly string[]).includes(m)) throw new Error(`--modes: unknown mode ${m} (${WAKE_MODES.join(', ')})`);
  }
  const samples: WakeSample[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const mode of modes as WakeMode[]) samples.push(await runWakeMode(mode, seconds));
  }
  const floor = median(samples.filter((s) => s.mode === 'c').map((s) => s.usPerWake));
  console.log(`${rounds} rounds of ${seconds} s per mode (medians); device thread CPU per wake-up`);
  console.log('mode        us/wake   x C  round trips/s  per round (us)');
  for (const mode of modes as WakeMode[]) {
    const mine = samples.filter((s) => s.mode === mode);
    const us = median(mine.map((s) => s.usPerWake));
    const times = Number.isFinite(floor) ? (us / floor).toFixed(2) : '-';
    console.log(`${mode.padEnd(10)} ${us.toFixed(2).padStart(8)} ${times.padStart(5)} ${median(mine.map((s) => s.perSecond)).toFixed(0).padStart(14)}  ` +
      mine.map((s) => s.usPerWake.toFixed(1)).join(' '));
  }
}

if (!isMainThread) {
  runDevice(workerData as DeviceData);
} else if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // Run as a program (not imported, e.g. by its test).
  main().catch((error: unknown) => {
    console.error(`wake-cost: ${(error as Error).message}`);
    process.exitCode = 1;
  });
}
