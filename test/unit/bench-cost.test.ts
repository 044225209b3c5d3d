/**
 * The benchmarks' cost arithmetic: the memory backend's copy floor and the
 * bound it puts on "memory / ceiling" (bench/copy-floor.ts), and bench:vm's
 * server CPU and sleeps per request and the guest's idle share (bench/vm.mjs
 * cpuPerIo, sleepsPerIo, guestIdle).
 */
import t from 'tap';
import { copyBoundOfCeiling, copyFloorNs } from '../../bench/copy-floor.js';

interface VmRun {
  meta: Record<string, unknown>;
  metrics: { iops: number };
}
type CpuPerIo = (run: VmRun) => { server_user_us_per_io?: number; server_sys_us_per_io?: number };
type GuestIdle = (run: VmRun) => { guest_idle_pct?: number };
type SleepsPerIo = (run: VmRun) => { server_sleeps_per_io?: number };
// bench/vm.mjs is plain JavaScript outside the TypeScript build: import it from the tree.
const vmUrl = new URL('../../../bench/vm.mjs', import.meta.url).href;
const { cpuPerIo, guestIdle, sleepsPerIo } =
  (await import(vmUrl)) as { cpuPerIo: CpuPerIo; guestIdle: GuestIdle; sleepsPerIo: SleepsPerIo };

t.test('copyBoundOfCeiling: device-bound, driver-bound, several queue threads', async (t) => {
  // Ceiling 1M IOPS set by a device thread at 1 µs per request, copies 0.25 µs: at most 0.8 of it.
  t.equal(copyBoundOfCeiling(1e6, 1000, 250), 0.8);
  // A driver-bound ceiling (300k) with a device at 1 µs: 1 / 1.25 µs = 800k > 300k, no bound.
  t.equal(copyBoundOfCeiling(300_000, 1000, 250), 1);
  // Two queue threads: twice the room.
  t.equal(copyBoundOfCeiling(2e6, 1000, 1000, 2), 0.5);
  t.equal(copyBoundOfCeiling(2e6, 1000, 1000, 1), 0.25);
});

t.test('copyFloorNs copies the job\'s bytes for real and times them', async (t) => {
  const disk = new Uint8Array(1 << 20).fill(0xa5);
  const write = copyFloorNs({ op: 'write', bs: 4096, random: true, qd: 4 }, disk, 5);
  t.ok(Number.isFinite(write) && write > 0, `write: ${write} ns per request`);
  // The destination buffers are zeroes: random 4 KiB writes have overwritten most of the disk.
  let zeroBlocks = 0;
  for (let at = 0; at < disk.length; at += 4096) if (disk[at] === 0 && disk[at + 4095] === 0) zeroBlocks++;
  t.ok(zeroBlocks > 128, `${zeroBlocks} of 256 blocks overwritten`);
  const read = copyFloorNs({ op: 'read', bs: 65536, random: false, qd: 2 }, disk, 5);
  t.ok(Number.isFinite(read) && read > 0, `read: ${read} ns per request`);
});

t.test('cpuPerIo: CPU over wall time per request, split by the threads\' system share', async (t) => {
  const run = (meta: Record<string, unknown>, iops: number): VmRun => ({ meta, metrics: { iops } });
  // 5 s of CPU over a 10 s run at 1,000 IOPS: 500 µs per request, one fifth of it in the kernel.
  const split = cpuPerIo(run({ server_cpu_s: 5, wall_s: 10,
    server_thread_cpu_s: { 'vduse-q0': 4, 'iou-wrk-1': 1 }, server_thread_sys_s: { 'vduse-q0': 0, 'iou-wrk-1': 1 } }, 1000));
  t.ok(Math.abs(split.server_user_us_per_io! - 400) < 1e-9, `user ${split.server_user_us_per_io}`);
  t.ok(Math.abs(split.server_sys_us_per_io! - 100) < 1e-9, `sys ${split.server_sys_us_per_io}`);
  // A run that did nothing, or whose CPU was not sampled, has no per-request cost.
  t.same(cpuPerIo(run({ server_cpu_s: 5, wall_s: 10 }, 0)), {});
  t.same(cpuPerIo(run({ wall_s: 10 }, 1000)), {});
});

t.test('guestIdle: idle and iowait over all the guest\'s CPU time', async (t) => {
  const run = (guest?: Record<string, number>): VmRun => ({ meta: guest ? { guest_cpu_s: guest } : {}, metrics: { iops: 1 } });
  t.same(guestIdle(run({ user: 6, system: 8, softirq: 1, idle: 4, iowait: 1 })), { guest_idle_pct: 25 });
  t.same(guestIdle(run({ user: 10, system: 10, idle: 0 })), { guest_idle_pct: 0 });
  t.same(guestIdle(run()), {}, 'an older guest script recorded none');
});

t.test('sleepsPerIo: every thread\'s sleeps over the run, per request', async (t) => {
  const run = (meta: Record<string, unknown>, iops: number): VmRun => ({ meta, metrics: { iops } });
  // 15,000 sleeps over 10 s at 1,000 IOPS: 1.5 per request.
  t.same(sleepsPerIo(run({ wall_s: 10, server_thread_sleeps: { 'vduse-q0': 12_000, 'iou-wrk-7': 3_000 } }, 1000)),
    { server_sleeps_per_io: 1.5 });
  t.same(sleepsPerIo(run({ wall_s: 10 }, 1000)), {}, 'not recorded');
  t.same(sleepsPerIo(run({ wall_s: 10, server_thread_sleeps: { x: 5 } }, 0)), {}, 'no requests');
});
