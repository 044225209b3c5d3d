/**
 * Completions that a backend reaps in a batch (a Completion settled from one
 * callback, as the io_uring backend does on its CQ) are published as soon
 * as that callback is over, before anything else runs on the queue's thread:
 * the driver has them while the thread is then held (batch-backend.ts).
 * Promise completions (libuv's pool) keep their flush once per event-loop
 * turn, in a setImmediate.
 */
import t from 'tap';
import { VIRTIO_BLK_S_OK } from '../../src/shared/virtio.js';
import { startLoopback } from '../helpers/loopback-fixture.js';
import { Gate, trackedReads } from '../helpers/gate.js';
import { until } from '../helpers/wait.js';

const specifier = new URL('../helpers/batch-backend.js', import.meta.url).href;
const SIZE = 4 << 20;
const BLOCK = 4096;
/** Read i is at block i * STRIDE: not contiguous, each its own place on the disk. */
const STRIDE = 3;

const expected = (offset: number, length: number): Uint8Array =>
  Uint8Array.from({ length }, (_, i) => ((offset + i) * 7 + 3) & 0xff);

for (const eventIdx of [true, false]) {
  t.test(`8 reads served in one batch reach the driver before the next event-loop callback (event_idx=${eventIdx})`, async (t) => {
    const count = 8;
    const gate = new Gate();
    const f = await startLoopback({
      shape: { queues: 1, size: SIZE },
      driver: { eventIdx },
      backendOverride: { kind: 'module', specifier, exportName: 'batched',
        options: { size: SIZE, batch: count, gate: gate.buffer } },
    });
    t.teardown(async () => {
      gate.open();
      await f.close();
    });
    const { done, reads } = trackedReads(f, count, STRIDE);
    await until('the hold after the batch', () => gate.holding);
    await until(`${count} completions while the queue thread is held`, () => done.every(Boolean), 5_000)
      .catch(() => undefined);
    t.equal(done.filter(Boolean).length, count, 'every read of the batch reached the driver during the hold');
    t.notOk(gate.isOpen, 'and the hold was still on');
    gate.open();
    const all = await Promise.all(reads);
    for (const [i, c] of all.entries()) {
      t.equal(c.status, VIRTIO_BLK_S_OK, `read ${i}: OK`);
      t.same(c.data, expected(i * STRIDE * BLOCK, BLOCK), `read ${i}: the disk's bytes`);
    }
    const stats = f.server.stats()[0]!;
    t.equal(stats.requests, BigInt(count), 'each served once');
    t.ok(stats.irqs <= 2n, `${stats.irqs} IRQ(s) for the batch`);
  });
}
