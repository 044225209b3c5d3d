/**
 * Loopback benchmark: the real product (control plane, queue workers,
 * backends) against the loopback kernel, driven by the TypeScript driver on
 * the main thread. Prints IOPS, MiB/s and latency per job, for the memory
 * and file backends and for a null backend (the harness ceiling), and writes
 * the results as JSON.
 *
 * Usage: node dist/bench/loopback-bench.js [--seconds S] [--out FILE]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { startLoopback, type Fixture } from '../test/helpers/loopback-fixture.js';
import { VIRTIO_BLK_S_OK } from '../src/shared/virtio.js';

interface Job { name: string; op: 'read' | 'write'; bs: number; qd: number; random: boolean; queues: number }
interface Result extends Job { backend: string; iops: number; mibps: number; meanUs: number; p99Us: number; cpuUsPerReq: number }

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '2' }, out: { type: 'string' },
  quick: { type: 'boolean' } } });
const seconds = Number(values.seconds);
const SIZE = 256 << 20;

function jobs(): Job[] {
  const out: Job[] = [];
  for (const queues of [1, 2]) {
    for (const qd of values.quick ? [1, 32] : [1, 32, 128]) {
      out.push({ name: `4k-randread`, op: 'read', bs: 4096, qd, random: true, queues });
      out.push({ name: `4k-randwrite`, op: 'write', bs: 4096, qd, random: true, queues });
      out.push({ name: `128k-seqread`, op: 'read', bs: 131072, qd, random: false, queues });
      out.push({ name: `128k-seqwrite`, op: 'write', bs: 131072, qd, random: false, queues });
    }
  }
  return out;
}

async function run(f: Fixture, job: Job): Promise<Omit<Result, keyof Job | 'backend'>> {
  const lat: number[] = [];
  const payload = new Uint8Array(job.bs).fill(0x5a);
  const sectors = SIZE / 512;
  const per = job.bs / 512;
  let seq = 0;
  let done = 0;
  const end = performance.now() + seconds * 1000;
  const cpu0 = process.cpuUsage();
  const worker = async (slot: number): Promise<void> => {
    const q = slot % f.driver.queueCount;
    while (performance.now() < end) {
      const sector = job.random ? Math.floor(Math.random() * (sectors / per)) * per : (seq++ * per) % sectors;
      const t0 = performance.now();
      const c = job.op === 'read' ? await f.driver.read(q, sector, job.bs) : await f.driver.write(q, sector, payload);
      lat.push(performance.now() - t0);
      if (c.status !== VIRTIO_BLK_S_OK) throw new Error(`status ${c.status}`);
      done++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: job.qd * job.queues }, (_, i) => worker(i)));
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  lat.sort((a, b) => a - b);
  const iops = done / elapsed;
  return {
    iops, mibps: (iops * job.bs) / (1 << 20),
    meanUs: (lat.reduce((a, b) => a + b, 0) / lat.length) * 1000,
    p99Us: (lat[Math.floor(lat.length * 0.99)] ?? 0) * 1000,
    cpuUsPerReq: ((cpu.user + cpu.system) / done),
  };
}

async function main(): Promise<void> {
  const results: Result[] = [];
  const backends = ['null', 'memory', 'file'] as const;
  console.log(`backend  job            queues  qd   IOPS      MiB/s    mean us   p99 us  process CPU us/req`);
  for (const job of jobs()) {
    for (const backend of backends) {
      const f = await startLoopback({
        backend: backend === 'file' ? 'file' : 'memory',
        shape: { queues: job.queues, size: SIZE, queueSize: 256 },
        memory: { size: 256 << 20 },
        ...(backend === 'null' ? { backendOverride: { kind: 'module' as const, specifier: new URL('./null-backend.js', import.meta.url).href, options: { size: SIZE } } } : {}),
      });
      try {
        const r = { ...job, backend, ...(await run(f, job)) };
        results.push(r);
        console.log(`${backend.padEnd(8)} ${job.name.padEnd(14)} ${String(job.queues).padStart(6)} ${String(job.qd).padStart(4)} ` +
          `${r.iops.toFixed(0).padStart(8)} ${r.mibps.toFixed(1).padStart(9)} ${r.meanUs.toFixed(1).padStart(9)} ` +
          `${r.p99Us.toFixed(1).padStart(8)} ${r.cpuUsPerReq.toFixed(1).padStart(10)}`);
      } finally {
        await f.close();
      }
    }
  }
  if (values.out !== undefined) mkdirSync(dirname(values.out), { recursive: true });
  if (values.out !== undefined) writeFileSync(values.out, JSON.stringify({ date: new Date().toISOString(), seconds, results }, null, 2));
}

await main();
