/**
 * The product on the loopback kernel, driven by the native benchmark driver
 * (bench/native-driver.ts): 4k random reads at several queue depths, 1 and 2
 * queues, memory backend and null backend (the harness ceiling). Prints
 * IOPS, latency and CPU: the engine's threads, and the whole process (device
 * workers included) per request.
 *
 * Usage: node dist/bench/native-smoke.js [--seconds S] [--spin US] [--qd 1,32,128] [--queues 1,2]
 *          [--backends memory,null] [--op read|write] [--no-event-idx] [--no-indirect]
 */
import { parseArgs } from 'node:util';
import { startLoopback } from '../test/helpers/loopback-fixture.js';
import { bufferBytesFor, runJob } from './native-driver.js';

const { values } = parseArgs({ options: {
  seconds: { type: 'string', default: '2' },
  spin: { type: 'string', default: '0' },
  qd: { type: 'string', default: '1,32,128' },
  queues: { type: 'string', default: '1,2' },
  backends: { type: 'string', default: 'memory,null' },
  op: { type: 'string', default: 'read' },
  bs: { type: 'string', default: '4096' },
  'no-event-idx': { type: 'boolean' },
  'no-indirect': { type: 'boolean' },
} });
const list = (s: string): number[] => s.split(',').map(Number);
const SIZE = 256 << 20;
const bs = Number(values.bs);
const op = values.op === 'write' ? 'write' : 'read';

console.log(`backend  queues   qd       IOPS   mean us    p50 us    p99 us   p999 us  engine CPU %  process CPU us/IO`);
for (const backend of values.backends.split(',')) {
  for (const queues of list(values.queues)) {
    for (const qd of list(values.qd)) {
      const f = await startLoopback({
        backend: 'memory',
        shape: { queues, size: SIZE, queueSize: 256 },
        memory: { size: 64 << 20 },
        driver: { eventIdx: !values['no-event-idx'], indirect: !values['no-indirect'] },
        ...(backend === 'null' ? { backendOverride: { kind: 'module' as const,
          specifier: new URL('./null-backend.js', import.meta.url).href, options: { size: SIZE } } } : {}),
      });
      try {
        const handles = Array.from({ length: queues }, (_, q) => f.driver.handOff(q, bufferBytesFor(qd, bs)));
        const cpu0 = process.cpuUsage();
        const r = await runJob(handles, { op, bs, qd, random: true, seconds: Number(values.seconds),
          capacitySectors: SIZE / 512, spinUs: Number(values.spin) });
        const cpu = process.cpuUsage(cpu0);
        const us = (ns: number): string => (ns / 1000).toFixed(1).padStart(9);
        console.log(`${backend.padEnd(8)} ${String(queues).padStart(6)} ${String(qd).padStart(4)} ` +
          `${(r.ios / r.seconds).toFixed(0).padStart(10)} ${us(r.latencyNs.mean)} ${us(r.latencyNs.p50)} ` +
          `${us(r.latencyNs.p99)} ${us(r.latencyNs.p999)} ${(100 * r.cpuSeconds / r.seconds).toFixed(0).padStart(13)} ` +
          `${((cpu.user + cpu.system) / (r.ios + r.drained)).toFixed(2).padStart(18)}` +
          (r.errors > 0 ? `  ERRORS ${r.errors}` : ''));
      } finally {
        await f.close();
      }
    }
  }
}
