/**
 * Control messages and device-level behaviour through the real control
 * plane on the loopback kernel: GET_ID, read-only devices, feature
 * negotiation (FEATURES_OK refusals), GET_VQ_STATE, UPDATE_IOTLB (mappings
 * dropped, in-flight I/O finished first), one worker per queue, and CPU
 * pinning of the workers.
 */
import { closeSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import t, { type Test } from 'tap';
import { LoopbackBlkDriver } from '../../src/loopback/blk-driver.js';
import { QueueState } from '../../src/shared/queue-control.js';
import {
  VIRTIO_BLK_F_RO, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_CONFIG_S_FAILED, VIRTIO_CONFIG_S_FEATURES_OK,
  VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_RING_PACKED, VIRTIO_F_VERSION_1, hasFeature,
} from '../../src/shared/virtio.js';
import { prng, randomBytes, startLoopback, type BackendKind, type Fixture } from '../helpers/loopback-fixture.js';
import { queueState, waitFor } from '../helpers/hostile-ring.js';

const bit = (n: number): bigint => 1n << BigInt(n);

async function verifiedIo(t: Test, f: Fixture, q: number, sector: number, seed: number, len = 4096): Promise<void> {
  const data = randomBytes(prng(seed), len);
  t.equal((await f.driver.write(q, sector, data)).status, VIRTIO_BLK_S_OK, `queue ${q}: write ok`);
  const c = await f.driver.read(q, sector, len);
  t.equal(c.status, VIRTIO_BLK_S_OK, `queue ${q}: read ok`);
  t.equal(Buffer.compare(Buffer.from(c.data), Buffer.from(data)), 0, `queue ${q}: read returns what was written`);
}

/** `p`, or a rejection after `ms` (a request the device lost must not hang the test). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not done in ${ms} ms`)), ms); });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Thread ids of this process whose name (comm) is `name`. */
function threadsNamed(name: string): string[] {
  return readdirSync('/proc/self/task').filter((tid) => {
    try {
      return readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === name;
    } catch {
      return false; // the thread exited meanwhile
    }
  });
}

function cpusAllowed(path: string): string {
  return /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync(path, 'utf8'))?.[1] ?? '';
}

function expandCpuList(list: string): number[] {
  return list.split(',').flatMap((part) => {
    const [lo, hi] = part.split('-').map(Number) as [number, number | undefined];
    return Array.from({ length: (hi ?? lo) - lo + 1 }, (_, i) => lo + i);
  });
}

// First in the file, so no worker thread of another fixture is around.
t.test('cpus pins each queue worker thread to its CPU', async (t) => {
  const allowed = expandCpuList(cpusAllowed('/proc/self/status'));
  const cpus = allowed.length > 1 ? [allowed[1]!, allowed[0]!] : [allowed[0]!];
  const f = await startLoopback({ shape: { queues: 2 }, cpus });
  t.teardown(() => f.close());
  for (let q = 0; q < 2; q++) {
    const tids = threadsNamed(`vduse-q${q}`);
    t.equal(tids.length, 1, `one thread named vduse-q${q}`);
    const want = String(cpus[q % cpus.length]);
    t.equal(cpusAllowed(`/proc/self/task/${tids[0]}/status`), want, `vduse-q${q} may run on CPU ${want} only`);
  }
  t.same(expandCpuList(cpusAllowed('/proc/self/status')), allowed, 'the main thread is not pinned');
  await verifiedIo(t, f, 0, 0, 1);
  await verifiedIo(t, f, 1, 64, 2);
});

t.test('4 queues: one worker each, and each request is counted on its own queue', async (t) => {
  const f = await startLoopback({ shape: { queues: 4 } });
  t.teardown(() => f.close());
  t.equal(f.driver.queueCount, 4, 'the driver uses 4 queues');
  const stats = f.server.stats();
  t.equal(stats.length, 4, 'four queue workers');
  t.same(stats.map((s) => s.queue), [0, 1, 2, 3], 'one per queue');
  t.ok(stats.every((s) => s.state === QueueState.RUNNING), 'all running');
  for (let q = 0; q < 4; q++) t.equal(threadsNamed(`vduse-q${q}`).length, 1, `a thread named vduse-q${q}`);
  for (let q = 0; q < 4; q++) {
    for (let i = 0; i <= q; i++) await verifiedIo(t, f, q, (q * 8 + i) * 8, q * 10 + i); // q+1 writes + reads
  }
  f.server.stats().forEach((s) => {
    t.equal(s.requests, BigInt(2 * (s.queue + 1)), `queue ${s.queue} counted its ${2 * (s.queue + 1)} requests`);
    t.equal(s.bytesWritten > 0n && s.bytesRead > 0n, true, `queue ${s.queue} counted bytes`);
  });
});

t.test('GET_ID: the serial, NUL-padded to 20 bytes; a 20-character serial fills the field', async (t) => {
  for (const serial of ['loopback-serial', 'x', 'ABCDEFGHIJ0123456789']) {
    const f = await startLoopback({ shape: { serial } });
    try {
      const c = await f.driver.getId(0);
      t.equal(c.status, VIRTIO_BLK_S_OK, `'${serial}': ok`);
      t.equal(c.usedLen, 21, `'${serial}': 20 bytes and the status`);
      const want = new Uint8Array(20);
      want.set(Buffer.from(serial, 'ascii'));
      t.same([...c.data], [...want], `'${serial}': ${serial.length < 20 ? 'NUL-padded' : 'no terminator'}`);
    } finally {
      await f.close();
    }
  }
});

for (const backend of ['memory', 'file'] as BackendKind[]) {
  t.test(`read-only device (${backend}): writes, discard and write-zeroes fail, reads work`, async (t) => {
    const f = await startLoopback({ backend, shape: { readOnly: true } });
    t.teardown(() => f.close());
    t.ok(hasFeature(f.driver.features, VIRTIO_BLK_F_RO), 'VIRTIO_BLK_F_RO negotiated');
    const pattern = randomBytes(prng(11), f.shape.size);
    if (f.filePath === null) f.disk().set(pattern);
    else {
      const fd = openSync(f.filePath, 'r+');
      writeSync(fd, pattern, 0, pattern.length, 0);
      closeSync(fd);
    }
    const refused: Array<[string, () => ReturnType<Fixture['driver']['flush']>]> = [
      ['write', () => f.driver.write(0, 8, new Uint8Array(4096))],
      ['discard', () => f.driver.discard(0, [[8, 8]])],
      ['write-zeroes', () => f.driver.writeZeroes(0, [[8, 8]])],
      ['write-zeroes with unmap', () => f.driver.writeZeroes(0, [[8, 8]], true)],
    ];
    for (const [name, run] of refused) {
      const c = await run();
      t.equal(c.status, VIRTIO_BLK_S_IOERR, `${name}: IOERR`);
      t.equal(c.usedLen, 1, `${name}: only the status written`);
    }
    t.equal(Buffer.compare(Buffer.from(f.disk()), Buffer.from(pattern)), 0, 'backing bytes unchanged');
    const c = await f.driver.read(0, 8, 4096);
    t.equal(c.status, VIRTIO_BLK_S_OK, 'read ok');
    t.equal(Buffer.compare(Buffer.from(c.data), Buffer.from(pattern.subarray(4096, 8192))), 0, 'read returns the disk');
    t.equal((await f.driver.flush(0)).status, VIRTIO_BLK_S_OK, 'flush ok');
  });
}

t.test('FEATURES_OK is refused for features not offered, or without VERSION_1 or ACCESS_PLATFORM', async (t) => {
  const f = await startLoopback();
  t.teardown(() => f.close());
  const d = f.driver.device;
  const offered = d.offeredFeatures;
  await f.driver.reset();
  const cases: Array<[string, bigint]> = [
    ['a feature not offered (RING_PACKED)', offered | bit(VIRTIO_F_RING_PACKED)],
    ['a feature not offered (bit 50)', offered | bit(50)],
    ['no VERSION_1', offered & ~bit(VIRTIO_F_VERSION_1)],
    ['no ACCESS_PLATFORM', offered & ~bit(VIRTIO_F_ACCESS_PLATFORM)],
    ['nothing at all', 0n],
  ];
  for (const [name, forceFeatures] of cases) {
    const bad = new LoopbackBlkDriver(d, { forceFeatures });
    await t.rejects(bad.probe(), /refused the features/, `${name}: probe fails`);
    t.equal(d.status & VIRTIO_CONFIG_S_FEATURES_OK, 0, `${name}: the device status lacks FEATURES_OK`);
    t.equal(f.server.deviceStatus & VIRTIO_CONFIG_S_FEATURES_OK, 0, `${name}: so does the control plane's`);
    t.equal(f.server.stats().length, 0, `${name}: no queue started`);
    bad.close();
  }
  await f.driver.probe();
  t.ok(d.status & VIRTIO_CONFIG_S_FEATURES_OK, 'the offered features are then accepted');
  await verifiedIo(t, f, 0, 0, 3);
});

/** `n` flushes on queue `q`, `batch` at a time. */
async function flushes(t: Test, f: Fixture, q: number, n: number, batch = 32): Promise<void> {
  let bad = 0;
  for (let done = 0; done < n; done += batch) {
    const cs = await Promise.all(Array.from({ length: Math.min(batch, n - done) }, () => f.driver.flush(q)));
    bad += cs.filter((c) => c.status !== VIRTIO_BLK_S_OK).length;
  }
  t.equal(bad, 0, `${n} flushes on queue ${q} ok`);
}

t.test('GET_VQ_STATE is the queue\'s last_avail_idx: running, stopped, after a new DRIVER_OK', async (t) => {
  const f = await startLoopback({ shape: { queues: 2 } });
  t.teardown(() => f.close());
  const d = f.driver.device;
  t.equal(await d.getVqState(0), 0, 'fresh queue: 0');
  await flushes(t, f, 0, 37);
  await flushes(t, f, 1, 5);
  t.equal(await d.getVqState(0), 37, 'running: queue 0 after 37 requests');
  t.equal(await d.getVqState(1), 5, 'running: queue 1 after 5 requests');
  // The driver marks the device FAILED: the queues stop, their position stays.
  t.ok(await d.setStatus(d.status | VIRTIO_CONFIG_S_FAILED), 'FAILED accepted');
  t.equal(f.server.stats().length, 0, 'queues stopped');
  t.equal(await d.getVqState(0), 37, 'stopped: queue 0 still at 37');
  t.equal(await d.getVqState(1), 5, 'stopped: queue 1 still at 5');
  await f.driver.reset();
  await f.driver.probe();
  t.equal(await d.getVqState(0), 0, 'a new DRIVER_OK starts from the driver\'s index (0)');
  await flushes(t, f, 0, 3);
  t.equal(await d.getVqState(0), 3, 'running again: 3');
});

// A reset device starts from scratch (the kernel zeroes the vq state and the
// next DRIVER_OK sets it again); vhost-vdpa asks GET_VRING_BASE before the reset.
t.test('GET_VQ_STATE after a reset reports the reset state, not the old position', async (t) => {
  const f = await startLoopback();
  t.teardown(() => f.close());
  await flushes(t, f, 0, 9);
  t.equal(await f.driver.device.getVqState(0), 9, 'before reset: 9');
  await f.driver.reset();
  t.equal(await f.driver.device.getVqState(0), 0, 'after reset: 0');
});

t.test('GET_VQ_STATE wraps at 65536', async (t) => {
  const f = await startLoopback({ shape: { queueSize: 256 } });
  t.teardown(() => f.close());
  await flushes(t, f, 0, 65536 + 21, 240);
  t.equal(await f.driver.device.getVqState(0), 21, '65557 requests: 65557 mod 65536 = 21');
});

t.test('UPDATE_IOTLB with the same entries is answered OK and the queues serve on', async (t) => {
  const f = await startLoopback({ shape: { queues: 2 }, memory: { regions: 3 } });
  t.teardown(() => f.close());
  const d = f.driver.device;
  await verifiedIo(t, f, 0, 0, 4);
  t.ok(await d.updateIotlb(d.memory.iotlbEntries()), 'whole range: OK');
  await verifiedIo(t, f, 0, 8, 5);
  await verifiedIo(t, f, 1, 16, 6);
  const r = d.memory.regions[1]!;
  t.ok(await d.updateIotlb(d.memory.iotlbEntries(), BigInt(r.start), BigInt(r.start + r.size - 1)), 'one region: OK');
  await verifiedIo(t, f, 0, 24, 7, 256 * 1024);
  t.ok(f.server.stats().every((s) => s.state === QueueState.RUNNING), 'queues running');
});

t.test('UPDATE_IOTLB to an empty table drops the old mappings; reset + probe recovers', async (t) => {
  const f = await startLoopback({ shape: { queues: 2 } });
  t.teardown(() => f.close());
  const d = f.driver.device;
  await verifiedIo(t, f, 0, 0, 8);
  t.ok(await d.updateIotlb([]), 'reply OK');
  let completed = false;
  void f.driver.flush(0).then(() => { completed = true; });
  for (const q of [0, 1]) {
    await waitFor(() => queueState(f.server, q) === QueueState.FAILED, `queue ${q} to fail`);
    t.equal(queueState(f.server, q), QueueState.FAILED, `queue ${q} can no longer map its ring: FAILED`);
  }
  await new Promise((r) => setTimeout(r, 50));
  t.notOk(completed, 'the request after the update was not served from a stale mapping');
  await f.driver.reset(); // the kernel's reset restores the IOTLB
  await f.driver.probe();
  t.ok(f.server.stats().every((s) => s.state === QueueState.RUNNING), 'queues running again');
  await verifiedIo(t, f, 0, 8, 9);
  await verifiedIo(t, f, 1, 16, 10);
});

t.test('in-flight I/O finishes before UPDATE_IOTLB is answered (file backend)', async (t) => {
  const f = await startLoopback({ backend: 'file', shape: { queues: 2, size: 8 << 20 }, memory: { regions: 2 } });
  t.teardown(() => f.close());
  const d = f.driver.device;
  const CHUNK = 32 * 1024;
  const count = f.shape.size / CHUNK;
  const model = randomBytes(prng(12), f.shape.size);
  let done = 0;
  let bad = 0;
  const updatesWhileBusy = async (): Promise<number[]> => {
    const seen: number[] = [];
    for (let i = 0; i < 6; i++) {
      seen.push(done);
      if (!(await d.updateIotlb(d.memory.iotlbEntries()))) bad++;
      await new Promise((r) => setImmediate(r));
    }
    return seen;
  };
  const writes = Array.from({ length: count }, (_, i) => f.driver.write(i % 2, (i * CHUNK) / 512,
    model.subarray(i * CHUNK, (i + 1) * CHUNK)).then((c) => { done++; if (c.status !== VIRTIO_BLK_S_OK) bad++; }));
  const seenW = await updatesWhileBusy();
  await within(Promise.all(writes), 10_000, 'writes');
  t.ok(seenW[0]! < count, `the first update went out with ${count - seenW[0]!} writes in flight`);
  done = 0;
  const reads = Array.from({ length: count }, (_, i) => f.driver.read(i % 2, (i * CHUNK) / 512, CHUNK).then((c) => {
    done++;
    if (c.status !== VIRTIO_BLK_S_OK || Buffer.compare(Buffer.from(c.data), Buffer.from(model.subarray(i * CHUNK, (i + 1) * CHUNK))) !== 0) bad++;
  }));
  const seenR = await updatesWhileBusy();
  await within(Promise.all(reads), 10_000, 'reads');
  t.ok(seenR[0]! < count, `the first update went out with ${count - seenR[0]!} reads in flight`);
  t.equal(bad, 0, 'every update answered OK, every request OK, every read byte-exact');
  t.equal(Buffer.compare(Buffer.from(f.disk()), Buffer.from(model)), 0, 'the file holds every write');
});

t.test('a backend smaller than the device is refused before the device exists', async (t) => {
  const { createMemoryDisk } = await import('../../src/control/memory-disk.js');
  const { BackendError } = await import('../../src/shared/errors.js');
  const ram = createMemoryDisk(1 << 20);
  t.teardown(() => ram.close());
  const small: Array<[string, Parameters<typeof startLoopback>[0]]> = [
    ['memfd', { shape: { size: 4 << 20 }, backendOverride: ram.descriptor }],
    ['memfd, descriptor larger than its file', { shape: { size: 2 << 20 },
      backendOverride: { kind: 'memfd', fd: ram.fd, size: 2 << 20 } }],
    ['SharedArrayBuffer', { shape: { size: 4 << 20 }, backendOverride: { kind: 'memory', buffer: new SharedArrayBuffer(1 << 20) } }],
    ['file', { shape: { size: 4 << 20 }, backendOverride: { kind: 'file', fd: ram.fd, size: 1 << 20, readOnly: false } }],
  ];
  for (const [what, options] of small) {
    await t.rejects(startLoopback(options), BackendError, what);
  }
  // VDUSE_BLK_IO is read by each queue worker: a bad value is refused up front too.
  const saved = process.env['VDUSE_BLK_IO'];
  process.env['VDUSE_BLK_IO'] = 'bogus';
  try {
    await t.rejects(startLoopback({ shape: { size: 1 << 20 }, backend: 'file' }),
      { name: 'BackendError', message: /VDUSE_BLK_IO=bogus: expected auto, uring, threads, sync/ }, 'a bad VDUSE_BLK_IO');
  } finally {
    if (saved === undefined) delete process.env['VDUSE_BLK_IO'];
    else process.env['VDUSE_BLK_IO'] = saved;
  }
  // The same memfd serves a device of its own size.
  const f = await startLoopback({ shape: { size: 1 << 20 }, backendOverride: ram.descriptor });
  t.teardown(() => f.close());
  ram.bytes.fill(0x3c, 0, 4096);
  const c = await f.driver.read(0, 0, 4096);
  t.equal(c.status, VIRTIO_BLK_S_OK);
  t.ok(c.data.every((b) => b === 0x3c), 'reads the memfd');
});

/** Module backends that fail in one way each (test/helpers/probe-backends.ts). */
const specifier = new URL('../helpers/probe-backends.js', import.meta.url).href;

t.test('a module backend that fails to load, open or fit is refused before the device exists', async (t) => {
  const { BackendError } = await import('../../src/shared/errors.js');
  const bad: Array<[string, string | undefined, unknown, RegExp]> = [
    ['a factory that throws', 'throwing', undefined, /probe-backends\.js#throwing: no such volume: vol-7/],
    ['a factory that rejects', 'rejecting', undefined, /store unreachable/],
    ['a backend smaller than the device', 'sized', { size: 1 << 20 }, /holds 1048576 bytes, less than the 4194304-byte device/],
    ['an export that is not a function', 'notAFunction', undefined, /does not export a function "notAFunction"/],
  ];
  for (const [what, exportName, options, message] of bad) {
    const backendOverride = { kind: 'module' as const, specifier, ...(exportName ? { exportName } : {}), options };
    const err = await startLoopback({ shape: { name: 'probed', size: 4 << 20 }, backendOverride }).then(() => null, (e: unknown) => e);
    t.ok(err instanceof BackendError, `${what}: a BackendError`);
    t.match((err as Error).message, message, `${what}: says why`);
  }
  const missing = { kind: 'module' as const, specifier: new URL('../helpers/no-such-backend.js', import.meta.url).href };
  await t.rejects(startLoopback({ shape: { name: 'probed', size: 4 << 20 }, backendOverride: missing }), BackendError, 'a module that is not there');
  // Nothing was left behind: the name is free, and a module that fits serves.
  const f = await startLoopback({ shape: { name: 'probed', size: 4 << 20 },
    backendOverride: { kind: 'module', specifier, exportName: 'sized', options: { size: 4 << 20 } } });
  t.teardown(() => f.close());
  const w = await f.driver.write(0, 8, new Uint8Array(4096).fill(0x5e));
  t.equal(w.status, VIRTIO_BLK_S_OK);
  const c = await f.driver.read(0, 8, 4096);
  t.equal(c.status, VIRTIO_BLK_S_OK);
  t.ok(c.data.every((b) => b === 0x5e), 'the module backend serves');
});

t.test('a process started with flags that Node refuses for workers still starts its queues', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const fixture = new URL('../helpers/loopback-fixture.js', import.meta.url).href;
  const code = `
    const { startLoopback } = await import(${JSON.stringify(fixture)});
    const f = await startLoopback();
    const w = await f.driver.write(0, 0, new Uint8Array(512).fill(94));
    const r = await f.driver.read(0, 0, 512);
    await f.close();
    console.log(JSON.stringify({ write: w.status, read: r.status, byte: r.data[511] }));`;
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  // --single-threaded-gc is a process-wide V8 flag: new Worker() refuses it in execArgv.
  const r = spawnSync(process.execPath, ['--single-threaded-gc', '--input-type=module', '-e', code],
    { encoding: 'utf8', timeout: 60_000, env });
  t.equal(r.status, 0, r.stderr);
  const last = r.stdout.trim().split('\n').pop();
  t.same(last ? JSON.parse(last) : null, { write: 0, read: 0, byte: 94 }, 'the queue served a write and a read');
});

t.test('a queue whose backend does not open once the driver is ready fails its requests instead of leaving them', async (t) => {
  const f = await startLoopback({ shape: { queues: 2, size: 4 << 20 },
    backendOverride: { kind: 'module', specifier, exportName: 'onlyQueue0', options: { size: 4 << 20 } } });
  t.teardown(() => f.close());
  const bad = await Promise.all([f.driver.read(1, 0, 4096), f.driver.write(1, 8, new Uint8Array(512)), f.driver.flush(1)]);
  t.same(bad.map((c) => c.status), [VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_IOERR], 'queue 1 answers IOERR');
  t.equal((await f.driver.write(0, 8, new Uint8Array(512).fill(7))).status, VIRTIO_BLK_S_OK, 'queue 0 serves');
  const c = await f.driver.read(0, 8, 512);
  t.ok(c.status === VIRTIO_BLK_S_OK && c.data.every((b) => b === 7), 'and reads back');
});
