/**
 * Used-ring publishing inside a long drain: with a synchronous backend the
 * queue publishes (and interrupts) in groups while it is still serving the
 * rest of a batch, so the driver gets its first completions early. A read
 * held on the queue thread (gated-backend.ts) freezes the drain at a known
 * request; what the driver has received by then is what was published.
 */
import t from 'tap';
import { VIRTIO_BLK_S_OK } from '../../src/shared/virtio.js';
import { startLoopback } from '../helpers/loopback-fixture.js';
import { Gate, trackedReads } from '../helpers/gate.js';
import { sleep, until } from '../helpers/wait.js';

const specifier = new URL('../helpers/gated-backend.js', import.meta.url).href;
const SIZE = 4 << 20;
const BLOCK = 4096;

// [requests in one kick, the one held, completions the driver has while it is held]
const cases: Array<[number, number, number]> = [
  [64, 40, 32], // 32 pending: published whatever is left behind them
  [24, 20, 16], // 16 pending and only 8 behind them: about half the batch
  [12, 10, 0], // a short batch is published once, at its end
];

for (const eventIdx of [true, false]) {
  for (const [count, held, early] of cases) {
    t.test(`${count} reads in one kick, read ${held} held (event_idx=${eventIdx}): the driver has ${early} by then`, async (t) => {
      const gate = new Gate();
      const f = await startLoopback({
        shape: { queues: 1, size: SIZE },
        driver: { eventIdx },
        backendOverride: { kind: 'module', specifier, exportName: 'gated',
          options: { size: SIZE, offset: held * BLOCK, gate: gate.buffer } },
      });
      t.teardown(async () => {
        gate.open();
        await f.close();
      });
      const { done, reads } = trackedReads(f, count);
      const received = () => done.filter(Boolean).length;
      await until('the held read', () => gate.holding);
      if (early > 0) await until(`${early} completions`, () => received() >= early);
      await sleep(100); // no more may arrive while the read is held
      t.equal(received(), early, `${received()} completions reached the driver during the drain`);
      t.ok(done.slice(0, early).every(Boolean), 'and they are the first ones served');
      gate.open();
      const all = await Promise.all(reads);
      t.ok(all.every((c) => c.status === VIRTIO_BLK_S_OK), `all ${count} complete OK once it is let go`);
      t.equal(f.server.stats()[0]!.requests, BigInt(count), 'each served once');
    });
  }
}
