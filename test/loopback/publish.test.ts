/**
 * Completions of synchronous requests are handed to the driver while the
 * drain that popped them goes on: with requests that each hold the queue's
 * thread for a while, the driver must not wait for the whole batch.
 */
import t from 'tap';
import { VIRTIO_BLK_S_OK } from '../../src/shared/virtio.js';
import { startLoopback } from '../helpers/loopback-fixture.js';

t.test('a long drain publishes each synchronous completion before serving the next request', async (t) => {
  const calls = new SharedArrayBuffer(4);
  const served = new Int32Array(calls);
  const size = 1 << 20;
  const f = await startLoopback({
    shape: { size },
    backendOverride: { kind: 'module', specifier: new URL('../helpers/slow-sync-backend.js', import.meta.url).href,
      options: { size, delayMs: 40, calls } },
  });
  t.teardown(() => f.close());
  const batch = 6;
  // One event-loop turn: the driver publishes all six and kicks once, so one drain pops them all.
  const seenAt: number[] = [];
  const reads = Array.from({ length: batch }, (_, i) => f.driver.read(0, i * 8, 4096).then((c) => {
    seenAt.push(Atomics.load(served, 0));
    return c;
  }));
  const done = await Promise.all(reads);
  for (const c of done) {
    t.equal(c.status, VIRTIO_BLK_S_OK);
    t.ok(c.data.every((b) => b === 0x5a), 'data filled');
  }
  t.equal(Atomics.load(served, 0), batch, 'every request served once');
  // Published one by one, the first completion reaches the driver while
  // later requests are still being served (40 ms each); published at the end
  // of the drain, every completion would be seen with all six served.
  t.ok(seenAt[0]! < batch, `first completion seen after ${seenAt[0]} of ${batch} requests were served`);
});
