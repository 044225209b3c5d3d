// QueueControl's counters: written by the queue worker only (plain stores),
// read by the control plane as bigints, from another thread too.
import { Worker } from 'node:worker_threads';
import t from 'tap';
import { QUEUE_COUNTERS, QueueControl } from '../../src/shared/queue-control.js';

t.test('counters start at zero and add up by name, per kick, per IRQ and per batch', async (t) => {
  const c = new QueueControl();
  t.same(c.counters(), Object.fromEntries(QUEUE_COUNTERS.map((k) => [k, 0n])));
  c.countKick();
  c.countKick();
  c.countIrq();
  c.countRequests(3, 12288, 4096, 1);
  c.countRequests(1, 0, 512, 0);
  c.count('errors');
  c.count('bytesRead', 2 ** 40);
  t.same(c.counters(), { requests: 4n, bytesRead: 12288n + 2n ** 40n, bytesWritten: 4608n, errors: 2n, kicks: 2n, irqs: 1n });
  c.inflight = 7;
  t.equal(c.inflight, 7);
});

t.test('a worker thread counts into the same block; the reader sees it', async (t) => {
  const c = new QueueControl();
  const url = new URL('../../src/shared/queue-control.js', import.meta.url).href;
  const w = new Worker(`
    const { workerData, parentPort } = require('node:worker_threads');
    import(${JSON.stringify(url)}).then(({ QueueControl }) => {
      const c = new QueueControl(workerData);
      for (let i = 0; i < 1000; i++) { c.countKick(); c.countRequests(2, 8192, 0, 0); }
      c.countIrq();
      parentPort.postMessage('done');
    });`, { eval: true, workerData: c.buffer });
  await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
  await w.terminate();
  const got = c.counters();
  t.equal(got.kicks, 1000n);
  t.equal(got.requests, 2000n);
  t.equal(got.bytesRead, 8192000n);
  t.equal(got.irqs, 1n);
});

t.test('a block too small is refused', async (t) => {
  t.throws(() => new QueueControl(new SharedArrayBuffer(16)), RangeError);
});
