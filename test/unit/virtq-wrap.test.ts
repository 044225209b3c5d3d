// 16-bit index wrap-around, resume at arbitrary indices, and a long
// driver/device simulation that checks data and that no notification is lost.
import t from 'tap';
import { makePair } from '../helpers/virtq-fixture.js';
import type { PairOptions, QueuePair } from '../helpers/virtq-fixture.js';

t.test('indices wrap at 2^16 on both rings', async (t) => {
  const pair = makePair({ size: 4, initialIdx: 0xfffe });
  t.equal(pair.queue.usedIdx, 0xfffe, 'device takes used.idx from the ring');
  const heads = [0, 1, 2, 3].map((i) => pair.driver.addChain([{ iova: pair.alloc(4, i), len: 4, write: false }]));
  pair.driver.publishAvail();
  t.equal(pair.queue.availIdx(), 2);
  const seen: number[] = [];
  const lastAvail: number[] = [];
  for (let c = pair.queue.popChain(); c !== null; c = pair.queue.popChain()) {
    seen.push(c.readable[0]?.[0] ?? -1);
    lastAvail.push(pair.queue.lastAvailIdx);
    pair.queue.addUsed(c.head, seen.length);
  }
  t.same(seen, [0, 1, 2, 3], 'avail slots 2, 3, 0, 1 in order');
  t.same(lastAvail, [0xffff, 0, 1, 2]);
  t.equal(pair.queue.publishUsed(), 4);
  t.equal(pair.driver.usedIdx(), 2);
  t.same([2, 3, 0, 1].map((s) => pair.driver.usedElement(s).id), heads);
  t.same(pair.driver.getUsed().map((u) => u.len), [1, 2, 3, 4]);
});

t.test('lastAvailIdx can be set to resume a queue', async (t) => {
  const pair = makePair({ size: 8, initialIdx: 0x1234 });
  t.equal(pair.queue.lastAvailIdx, 0x1234);
  pair.queue.lastAvailIdx = 0x1_1235; // masked to u16
  t.equal(pair.queue.lastAvailIdx, 0x1235);
  pair.driver.addChain([{ iova: pair.alloc(4), len: 4, write: false }]);
  const second = pair.driver.addChain([{ iova: pair.alloc(4), len: 4, write: false }]);
  pair.driver.publishAvail();
  t.equal(pair.queue.popChain()?.head, second, 'resumes after the first chain');
  t.equal(pair.queue.popChain(), null);
});

/** Deterministic PRNG (mulberry32). */
function random(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return Math.floor((((x ^ (x >>> 14)) >>> 0) / 2 ** 32) * n);
  };
}

interface Stats {
  done: number;
  kicks: number;
  irqs: number;
}

/**
 * The driver adds random batches and kicks when asked; the device drains on
 * a kick (disable, pop all, enable + re-check) and completes random subsets
 * in batches; the driver's interrupt handler consumes until enable says no
 * more. Work left that nobody was woken for is a lost notification: throws.
 */
function simulate(options: PairOptions, requests: number, seed: number): Stats & { pair: QueuePair } {
  const pair = makePair(options);
  const { driver, queue } = pair;
  const rand = random(seed);
  const size = driver.size;
  const pool = Array.from({ length: size }, () => ({ header: pair.alloc(4), status: pair.alloc(4), table: pair.alloc(32) }));
  const inFlight = new Map<number, { serial: number; buf: (typeof pool)[number] }>();
  const popped: { head: number; serial: number; status: Uint8Array }[] = [];
  const stats = { done: 0, kicks: 0, irqs: 0 };
  let sent = 0;
  let kick = false;
  let irq = false;
  const view = (iova: number) => new DataView(pair.mem.bytes.buffer, iova - pair.mem.base, 4);
  queue.enableNotification();
  driver.enableInterrupts();
  while (stats.done < requests) {
    const room = options.indirect ? driver.numFree : driver.numFree >> 1;
    const n = Math.min(inFlight.size === 0 ? 1 + rand(room) : rand(room + 1), requests - sent);
    for (let i = 0; i < n; i++) {
      const buf = pool.pop()!;
      view(buf.header).setUint32(0, sent, true);
      const segs = [{ iova: buf.header, len: 4, write: false }, { iova: buf.status, len: 4, write: true }];
      const head = driver.addChain(segs, options.indirect ? { indirect: { tableIova: buf.table } } : {});
      inFlight.set(head, { serial: sent++, buf });
    }
    driver.publishAvail();
    if (driver.kickNeeded()) kick = true;
    if (kick) {
      kick = false;
      stats.kicks++;
      do {
        queue.disableNotification();
        for (let c = queue.popChain(); c !== null; c = queue.popChain()) {
          const serial = new DataView(c.readable[0]!.buffer, c.readable[0]!.byteOffset, 4).getUint32(0, true);
          popped.push({ head: c.head, serial, status: c.writable[0]! });
        }
      } while (queue.enableNotification());
    }
    const complete = rand(popped.length + 1);
    for (const p of popped.splice(rand(popped.length - complete + 1), complete)) {
      new DataView(p.status.buffer, p.status.byteOffset, 4).setUint32(0, p.serial ^ 0x5a5a5a5a, true);
      queue.addUsed(p.head, 4);
    }
    queue.publishUsed();
    if (queue.needsNotification()) irq = true;
    if (irq) {
      irq = false;
      stats.irqs++;
      do {
        driver.disableInterrupts();
        for (const used of driver.getUsed()) {
          const req = inFlight.get(used.id);
          if (req === undefined || used.len !== 4) throw new Error(`bad completion ${JSON.stringify(used)}`);
          if (view(req.buf.status).getUint32(0, true) !== (req.serial ^ 0x5a5a5a5a)) throw new Error('bad status');
          inFlight.delete(used.id);
          pool.push(req.buf);
          stats.done++;
        }
      } while (driver.enableInterrupts());
    }
    // Sequential steps leave no legitimate window: the device ended its
    // drain with notifications enabled, the driver its handler with
    // interrupts enabled, so anything unseen now was not notified.
    if (queue.hasAvailable()) throw new Error(`lost kick after ${stats.done} requests`);
    if (driver.usedIdx() !== driver.lastUsedIdx) throw new Error(`lost interrupt after ${stats.done} requests`);
  }
  return { ...stats, pair };
}

for (const eventIdx of [false, true]) {
  for (const indirect of [false, true]) {
    t.test(`70000 requests across the wrap (eventIdx ${eventIdx}, indirect ${indirect})`, async (t) => {
      const requests = 70000;
      const start = 65530;
      const { done, kicks, irqs, pair } = simulate({ size: 8, eventIdx, indirect, initialIdx: start }, requests, 42);
      t.equal(done, requests);
      const end = (start + requests) & 0xffff;
      t.equal(pair.queue.lastAvailIdx, end);
      t.equal(pair.queue.usedIdx, end);
      t.equal(pair.driver.usedIdx(), end);
      t.equal(pair.driver.numFree, 8);
      t.ok(kicks < requests && irqs < requests, `suppression worked (kicks ${kicks}, irqs ${irqs})`);
    });
  }
}
