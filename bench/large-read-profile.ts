/**
 * Profiling aid: 128 KiB reads split into 4 KiB descriptors (as a guest's
 * VDUSE bounce mappings arrive), QD8, from a file on /dev/shm, through the
 * TypeScript loopback driver. Run with --cpu-prof to see where a queue
 * worker spends a large request (the driver's own cost is not the point).
 *
 * Usage: node --cpu-prof dist/bench/large-read-profile.js [--seconds S] [--bs BYTES] [--qd N] [--null]
 */
import { parseArgs } from 'node:util';
import { mkdtempSync, openSync, ftruncateSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startLoopback } from '../test/helpers/loopback-fixture.js';
import { threadCpuNs } from '../test/helpers/thread-cpu.js';

const { values } = parseArgs({ options: {
  seconds: { type: 'string', default: '3' },
  bs: { type: 'string', default: '131072' },
  qd: { type: 'string', default: '8' },
  /** The null backend (bench/null-backend.ts) instead of the file: only the request path is left. */
  null: { type: 'boolean' },
} });
const SIZE = 256 << 20;
const bs = Number(values.bs);
const qd = Number(values.qd);
const dir = mkdtempSync(join('/dev/shm', 'vduse-prof-'));
const fd = openSync(join(dir, 'disk.img'), 'w+');
ftruncateSync(fd, SIZE);
const f = await startLoopback({
  backendOverride: values.null
    ? { kind: 'module', specifier: new URL('./null-backend.js', import.meta.url).href, options: { size: SIZE } }
    : { kind: 'file', fd, size: SIZE, readOnly: false },
  shape: { queues: 1, size: SIZE, queueSize: 256 },
  memory: { size: 64 << 20 },
  driver: { segmentSize: 4096 },
});
let ios = 0;
const end = Date.now() + Number(values.seconds) * 1000;
const cpu0 = threadCpuNs('vduse-q');
await Promise.all(Array.from({ length: qd }, async (_, i) => {
  let sector = i * (bs / 512);
  while (Date.now() < end) {
    const c = await f.driver.read(0, sector % (SIZE / 512 - bs / 512), bs);
    if (c.status !== 0) throw new Error(`status ${c.status}`);
    ios++;
    sector += qd * (bs / 512);
  }
}));
const cpuNs = threadCpuNs('vduse-q') - cpu0;
console.log(`${ios} reads of ${bs} B at QD${qd}: ${(ios / Number(values.seconds)).toFixed(0)} IOPS, ` +
  `queue worker ${(cpuNs / 1000 / ios).toFixed(1)} us CPU per request`);
await f.close();
rmSync(dir, { recursive: true, force: true });
