/**
 * The native benchmark driver (bench/native-driver.ts) against the real
 * product on the loopback kernel, memory backend: reads and writes complete
 * without errors, written data lands in the backing buffer at the right
 * sectors, reads return it, with and without indirect descriptors and
 * EVENT_IDX, and the JS thread keeps running while a job does.
 */
import t, { type Test } from 'tap';
import { bufferBytesFor, runJob, type NativeJobResult } from '../../bench/native-driver.js';
import { startLoopback, type Fixture } from '../helpers/loopback-fixture.js';
import type { LoopbackDriverOptions } from '../../src/loopback/index.js';
import { VIRTIO_BLK_S_OK } from '../../src/shared/virtio.js';

const BS = 4096;
const QD = 8;

async function withFixture(driver: LoopbackDriverOptions, fn: (f: Fixture) => Promise<void>, queues = 1): Promise<void> {
  const f = await startLoopback({ backend: 'memory', driver, shape: { queues, queueSize: 64 } });
  try {
    await fn(f);
  } finally {
    await f.close();
  }
}

function sectors(f: Fixture): number {
  return f.shape.size / 512;
}

function clean(t: Test, r: NativeJobResult, what: string): void {
  t.ok(r.ios > 0, `${what}: requests completed (${r.ios} in ${r.seconds.toFixed(2)} s)`);
  t.equal(r.errors, 0, `${what}: no error statuses`);
  t.equal(r.unfinished, 0, `${what}: everything drained`);
  t.ok(r.latencyNs.p50 > 0 && r.latencyNs.p99 >= r.latencyNs.p50, `${what}: latencies recorded`);
}

/** Every 4 KiB block written by a sequential job starts with its sector and is filled with a slot byte in 1..QD. */
function checkWritten(t: Test, disk: Uint8Array): number {
  const view = new DataView(disk.buffer, disk.byteOffset, disk.byteLength);
  let written = 0;
  let bad = 0;
  for (let at = 0; at < disk.length; at += BS) {
    const stamp = view.getBigUint64(at, true);
    const fill = disk[at + 8]!;
    if (disk.subarray(at, at + BS).every((b) => b === 0)) continue; // never written
    const uniform = disk.subarray(at + 8, at + BS).every((b) => b === fill);
    if (stamp !== BigInt(at / 512) || fill < 1 || fill > QD || !uniform) bad++;
    else written++;
  }
  t.equal(bad, 0, 'no block holds anything but its stamp and a slot pattern');
  return written;
}

t.test('4k reads and writes, memory backend, default features', async (t) => {
  await withFixture({}, async (f) => {
    const h = f.driver.handOff(0, bufferBytesFor(QD, BS));
    t.ok(h.indirect && h.eventIdx, 'indirect and EVENT_IDX negotiated');

    const w = await runJob([h], { op: 'write', bs: BS, qd: QD, random: false, seconds: 0.5,
      capacitySectors: sectors(f) });
    clean(t, w, 'sequential write');
    const blocks = f.shape.size / BS;
    const written = checkWritten(t, f.disk());
    if (w.ios + w.drained >= blocks) t.equal(written, blocks, 'every block of the disk was written');
    else t.ok(written > 0, 'written blocks are in the backing buffer');
    t.equal(h.availIdx, h.lastUsedIdx, 'nothing left in flight');

    // The same handle again: the ring position carries over.
    const r = await runJob([h], { op: 'read', bs: BS, qd: QD, random: true, seconds: 0.5,
      capacitySectors: sectors(f), verify: written === blocks });
    clean(t, r, 'random read');
    t.equal(r.verifyErrors, 0, 'reads return what was written');
    h.release();
  });
});

for (const indirect of [true, false]) {
  for (const eventIdx of [true, false]) {
    t.test(`indirect ${indirect}, EVENT_IDX ${eventIdx}`, async (t) => {
      await withFixture({ indirect, eventIdx }, async (f) => {
        const h = f.driver.handOff(0, bufferBytesFor(QD, BS));
        t.equal(h.indirect, indirect, 'indirect as negotiated');
        t.equal(h.eventIdx, eventIdx, 'EVENT_IDX as negotiated');
        const w = await runJob([h], { op: 'write', bs: BS, qd: QD, random: true, seconds: 0.3,
          capacitySectors: sectors(f), seed: 7 });
        clean(t, w, 'random write');
        t.ok(checkWritten(t, f.disk()) > 0, 'written blocks are in the backing buffer');
        const r = await runJob([h], { op: 'read', bs: BS, qd: QD, random: true, seconds: 0.3,
          capacitySectors: sectors(f), spinUs: 5 });
        clean(t, r, 'random read with spinning');
        t.ok(r.queues[0]!.kicks > 0, 'kicked the device');
      });
    });
  }
}

t.test('the JS thread runs while a job does; other queues stay with the TS driver', async (t) => {
  await withFixture({}, async (f) => {
    const h = f.driver.handOff(0, bufferBytesFor(QD, BS));
    const job = runJob([h], { op: 'read', bs: BS, qd: QD, random: true, seconds: 0.5, capacitySectors: sectors(f) });
    let tsReads = 0;
    let tsErrors = 0;
    let settled = false;
    void job.finally(() => { settled = true; });
    while (!settled) {
      const c = await f.driver.read(1, tsReads % 64, 512);
      if (c.status !== VIRTIO_BLK_S_OK) tsErrors++;
      tsReads++;
    }
    t.equal(tsErrors, 0, 'the TS driver\'s reads succeeded');
    clean(t, await job, 'native job');
    t.ok(tsReads > 10, `the TS driver completed ${tsReads} reads on queue 1 meanwhile`);
  }, 2);
});

t.test('bad jobs are refused before anything is submitted', async (t) => {
  await withFixture({ indirect: false }, async (f) => {
    const pending = f.driver.read(0, 0, 512);
    t.throws(() => f.driver.handOff(0, 4096), /in flight/, 'a busy queue cannot be handed off');
    t.equal((await pending).status, VIRTIO_BLK_S_OK);
    const h = f.driver.handOff(0, bufferBytesFor(QD, BS));
    const base = { op: 'read' as const, bs: BS, random: true, seconds: 0.1, capacitySectors: sectors(f) };
    await t.rejects(runJob([h], { ...base, qd: 22 }), /descriptors/, '3 descriptors per request without indirect');
    await t.rejects(runJob([h], { ...base, qd: 16 }), /buffer area/, 'more than the buffer area holds');
    await t.rejects(runJob([h], { ...base, qd: 4, bs: 1000 }), /multiple of 512/);
    await t.rejects(runJob([h, h], { ...base, qd: 4 }), /twice/);
    clean(t, await runJob([h], { ...base, qd: 4 }), 'a good job afterwards');
  });
});
