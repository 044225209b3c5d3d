// Notification suppression in both directions, with and without EVENT_IDX,
// and batching of used elements.
import t from 'tap';
import { VRING_AVAIL_F_NO_INTERRUPT, VRING_USED_F_NO_NOTIFY } from '../../src/shared/virtio.js';
import { vringNeedEvent } from '../../src/workers/virtq/notification.js';
import { makePair } from '../helpers/virtq-fixture.js';
import type { QueuePair } from '../helpers/virtq-fixture.js';

/** Adds and publishes `n` one-buffer chains; returns the heads. */
function offer(pair: QueuePair, n: number): number[] {
  const heads: number[] = [];
  for (let i = 0; i < n; i++) heads.push(pair.driver.addChain([{ iova: pair.alloc(8), len: 8, write: true }]));
  pair.driver.publishAvail();
  return heads;
}

/** Pops everything and completes it in one batch; returns the count. */
function serve(pair: QueuePair): number {
  for (let c = pair.queue.popChain(); c !== null; c = pair.queue.popChain()) pair.queue.addUsed(c.head, 8);
  return pair.queue.publishUsed();
}

t.test('vring_need_event', async (t) => {
  t.equal(vringNeedEvent(0, 1, 0), true);
  t.equal(vringNeedEvent(1, 1, 0), false, 'event not yet reached');
  t.equal(vringNeedEvent(5, 8, 4), true, 'event inside the window');
  t.equal(vringNeedEvent(3, 8, 4), false, 'event before the window');
  t.equal(vringNeedEvent(0xffff, 2, 0xfffe), true, 'window across the wrap');
  t.equal(vringNeedEvent(4, 4, 4), false, 'empty window');
});

t.test('without EVENT_IDX: NO_NOTIFY suppresses kicks', async (t) => {
  const pair = makePair();
  offer(pair, 1);
  t.equal(pair.driver.kickNeeded(), true);
  t.equal(pair.driver.kickNeeded(), false, 'nothing new since the last decision');
  pair.queue.disableNotification();
  t.equal(pair.driver.usedFlags(), VRING_USED_F_NO_NOTIFY);
  serve(pair);
  offer(pair, 2);
  t.equal(pair.driver.kickNeeded(), false, 'suppressed');
  t.equal(pair.queue.enableNotification(), true, 're-check finds what came while disabled');
  t.equal(pair.driver.usedFlags(), 0);
  t.equal(serve(pair), 2);
  t.equal(pair.queue.enableNotification(), false, 'nothing pending');
  offer(pair, 1);
  t.equal(pair.driver.kickNeeded(), true);
});

t.test('without EVENT_IDX: NO_INTERRUPT suppresses used notifications', async (t) => {
  const pair = makePair();
  offer(pair, 2);
  t.equal(pair.queue.needsNotification(), false, 'nothing published yet');
  pair.queue.addUsed(pair.queue.popChain()?.head ?? -1, 8);
  pair.queue.publishUsed();
  t.equal(pair.queue.needsNotification(), true);
  t.equal(pair.queue.needsNotification(), false, 'already decided');
  pair.driver.getUsed();
  pair.driver.disableInterrupts();
  t.equal(serve(pair), 1);
  t.equal(pair.queue.needsNotification(), false, 'NO_INTERRUPT');
  t.equal(pair.driver.enableInterrupts(), true, 'the driver polls what came meanwhile');
  t.equal(pair.driver.getUsed().length, 1);
});

t.test('EVENT_IDX: kick suppression through avail_event', async (t) => {
  const pair = makePair({ eventIdx: true });
  t.equal(pair.queue.enableNotification(), false);
  t.equal(pair.driver.availEvent(), 0);
  offer(pair, 1);
  t.equal(pair.driver.kickNeeded(), true, 'entry 0 crosses avail_event 0');
  pair.queue.disableNotification();
  t.equal(pair.driver.usedFlags(), 0, 'used.flags untouched with EVENT_IDX');
  t.equal(pair.driver.availEvent(), 0, 'avail_event left stale');
  t.equal(serve(pair), 1);
  offer(pair, 3);
  t.equal(pair.driver.kickNeeded(), false, 'stale avail_event: no kick while the device drains');
  t.equal(serve(pair), 3);
  t.equal(pair.queue.enableNotification(), false);
  t.equal(pair.driver.availEvent(), 4, 'avail_event = lastAvailIdx');
  offer(pair, 2);
  t.equal(pair.driver.kickNeeded(), true);
  t.equal(pair.queue.enableNotification(), true, 'pending chains reported');
});

t.test('EVENT_IDX: avail_event is lastAvailIdx, even with chains not popped', async (t) => {
  const pair = makePair({ eventIdx: true });
  offer(pair, 3);
  pair.queue.popChain();
  t.equal(pair.queue.enableNotification(), true);
  t.equal(pair.driver.availEvent(), 1);
});

t.test('EVENT_IDX: used_event suppresses notifications', async (t) => {
  const pair = makePair({ eventIdx: true });
  offer(pair, 8);
  pair.queue.addUsed(pair.queue.popChain()?.head ?? -1, 0);
  pair.queue.publishUsed();
  t.equal(pair.queue.needsNotification(), true, 'first decision of a queue always notifies');
  t.equal(pair.driver.getUsed().length, 1);
  t.equal(pair.driver.usedEvent(), 1, 'driver asks for the next entry');
  pair.queue.addUsed(pair.queue.popChain()?.head ?? -1, 0);
  pair.queue.publishUsed();
  t.equal(pair.queue.needsNotification(), true, 'used 1→2 crosses used_event 1');
  pair.queue.addUsed(pair.queue.popChain()?.head ?? -1, 0);
  pair.queue.publishUsed();
  t.equal(pair.queue.needsNotification(), false, 'the driver has not consumed: no new interrupt');
  pair.driver.disableInterrupts();
  t.same(pair.driver.getUsed().length, 2);
  t.equal(pair.driver.usedEvent(), (1 + 0x8000) & 0xffff, 'far-away used_event');
  pair.queue.addUsed(pair.queue.popChain()?.head ?? -1, 0);
  pair.queue.publishUsed();
  t.equal(pair.queue.needsNotification(), false, 'disabled');
  t.equal(pair.driver.enableInterrupts(), true, 'one completion waiting');
  t.equal(pair.driver.usedEvent(), 3);
});

t.test('EVENT_IDX: a new (or resumed) queue notifies at its first decision', async (t) => {
  const pair = makePair({ eventIdx: true, initialIdx: 0x100 });
  pair.driver.setUsedEvent(0x105); // stale: would suppress this completion
  offer(pair, 2);
  pair.queue.addUsed(pair.queue.popChain()?.head ?? -1, 0);
  pair.queue.publishUsed();
  t.equal(pair.queue.needsNotification(), true, 'old used idx unknown: notify');
  pair.queue.addUsed(pair.queue.popChain()?.head ?? -1, 0);
  pair.queue.publishUsed();
  t.equal(pair.queue.needsNotification(), false, 'then used_event rules');
});

t.test('EVENT_IDX: several publishes between two decisions', async (t) => {
  const pair = makePair({ eventIdx: true });
  offer(pair, 6);
  for (let i = 0; i < 4; i++) pair.queue.addUsed(pair.queue.popChain()?.head ?? -1, 0);
  pair.queue.publishUsed();
  pair.queue.needsNotification();
  pair.driver.setUsedEvent(4);
  pair.queue.addUsed(pair.queue.popChain()?.head ?? -1, 0);
  t.equal(pair.queue.publishUsed(), 1);
  pair.queue.addUsed(pair.queue.popChain()?.head ?? -1, 0);
  t.equal(pair.queue.publishUsed(), 1);
  // The decision covers [4, 6): used_event 4 was crossed by the first of the
  // two publishes; judging only the last one (5→6) would lose the interrupt.
  t.equal(pair.queue.needsNotification(), true);
});

t.test('EVENT_IDX: NO_INTERRUPT in avail.flags is ignored', async (t) => {
  const pair = makePair({ eventIdx: true });
  offer(pair, 2);
  pair.queue.addUsed(pair.queue.popChain()?.head ?? -1, 0);
  pair.queue.publishUsed();
  pair.queue.needsNotification();
  pair.driver.setAvailFlags(VRING_AVAIL_F_NO_INTERRUPT);
  pair.driver.setUsedEvent(1);
  pair.queue.addUsed(pair.queue.popChain()?.head ?? -1, 0);
  pair.queue.publishUsed();
  t.equal(pair.queue.needsNotification(), true);
});

t.test('batching: many addUsed, one publish', async (t) => {
  const pair = makePair({ eventIdx: true });
  const heads = offer(pair, 3);
  const chains = [pair.queue.popChain(), pair.queue.popChain(), pair.queue.popChain()];
  chains.reverse().forEach((c, i) => pair.queue.addUsed(c?.head ?? -1, 100 + i));
  t.equal(pair.queue.pendingUsed, 3);
  t.equal(pair.driver.usedIdx(), 0, 'not visible before publish');
  t.same(pair.driver.getUsed(), []);
  t.same([0, 1, 2].map((s) => pair.driver.usedElement(s)), heads.reverse().map((id, i) => ({ id, len: 100 + i })), 'elements written in place');
  t.equal(pair.queue.publishUsed(), 3);
  t.equal(pair.queue.publishUsed(), 0, 'nothing left');
  t.equal(pair.driver.usedIdx(), 3);
  t.equal(pair.queue.usedIdx, 3);
  t.equal(pair.queue.needsNotification(), true, 'one decision for the batch');
  t.same(pair.driver.getUsed().map((u) => u.len), [100, 101, 102]);
  t.equal(pair.driver.numFree, 16);
});

t.test('addUsed argument checks', async (t) => {
  const pair = makePair({ size: 4 });
  t.throws(() => pair.queue.addUsed(4, 0), RangeError);
  t.throws(() => pair.queue.addUsed(0, -1), RangeError);
  t.throws(() => pair.queue.addUsed(0, 2 ** 32), RangeError);
  for (let i = 0; i < 4; i++) pair.queue.addUsed(i, 0);
  t.throws(() => pair.queue.addUsed(0, 0), { name: 'RangeError', message: /without publishing/ });
});
