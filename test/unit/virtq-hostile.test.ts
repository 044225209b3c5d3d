// Corrupt rings: every case throws VirtqueueError, and the queue stays
// broken (nothing from it can be trusted any more).
import t from 'tap';
import { VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE } from '../../src/shared/virtio.js';
import { VirtqueueError } from '../../src/workers/virtq/chain.js';
import { SplitQueue } from '../../src/workers/virtq/split-queue.js';
import { vringLayout } from '../../src/loopback/vring-layout.js';
import { TestGuestMemory } from '../helpers/virtq-memory.js';
import { BASE, MEMORY_SIZE, blkSegments, makePair } from '../helpers/virtq-fixture.js';
import type { PairOptions, QueuePair } from '../helpers/virtq-fixture.js';

const NEXT = VRING_DESC_F_NEXT;
const WRITE = VRING_DESC_F_WRITE;
const INDIRECT = VRING_DESC_F_INDIRECT;

/** What a builder returns: 'raw' when it stored avail.idx itself. */
type Build = (pair: QueuePair) => 'raw' | void;

/** Builds a ring with `build`, publishes, and returns the pop error. */
function popError(options: PairOptions, build: Build): { error: unknown; pair: QueuePair } {
  const pair = makePair({ size: 8, ...options });
  if (build(pair) !== 'raw') pair.driver.publishAvail();
  try {
    pair.queue.popChain();
  } catch (error) {
    return { error, pair };
  }
  throw new Error('popChain did not throw');
}

function hostile(name: string, options: PairOptions, message: RegExp, build: Build): void {
  t.test(name, async (t) => {
    const { error, pair } = popError(options, build);
    t.type(error, VirtqueueError);
    t.match((error as Error).message, message);
    t.equal(pair.queue.lastAvailIdx, options.initialIdx ?? 0, 'nothing consumed');
    t.throws(() => pair.queue.popChain(), error as Error, 'the queue stays broken');
  });
}

const buf = (pair: QueuePair, len = 16) => pair.alloc(len);

hostile('descriptor loop', {}, /longer than the queue size 8 \(loop\?\)/, (p) => {
  p.driver.writeDescriptor(0, { addr: buf(p), len: 16, flags: NEXT, next: 1 });
  p.driver.writeDescriptor(1, { addr: buf(p), len: 16, flags: NEXT, next: 0 });
  p.driver.putAvailHead(0);
});

hostile('self loop', {}, /loop/, (p) => {
  p.driver.writeDescriptor(3, { addr: buf(p), len: 16, flags: NEXT, next: 3 });
  p.driver.putAvailHead(3);
});

hostile('next out of range', {}, /next 8 out of range \(queue of 8\)/, (p) => {
  p.driver.writeDescriptor(0, { addr: buf(p), len: 16, flags: NEXT, next: 8 });
  p.driver.putAvailHead(0);
});

hostile('head out of range', {}, /head 8 out of range \(queue size 8\)/, (p) => p.driver.putAvailHead(8));

hostile('avail idx too far ahead', {}, /avail.idx 9 is 9 ahead of last_avail_idx 0/, (p) => {
  p.driver.setAvailIdx(9);
  return 'raw';
});

hostile('avail idx behind (wraps to far ahead)', { initialIdx: 100 }, /avail.idx 99 is 65535 ahead of last_avail_idx 100/, (p) => {
  p.driver.setAvailIdx(99);
  return 'raw';
});

hostile('indirect when not negotiated', {}, /VIRTIO_F_INDIRECT_DESC not negotiated/, (p) => {
  p.driver.addChain(blkSegments(p, 512, true), { indirect: { tableIova: buf(p, 48) } });
});

hostile('indirect with NEXT', { indirect: true }, /INDIRECT descriptor with NEXT/, (p) => {
  p.driver.writeDescriptor(0, { addr: buf(p, 16), len: 16, flags: INDIRECT | NEXT, next: 1 });
  p.driver.writeDescriptor(1, { addr: buf(p), len: 16, flags: 0, next: 0 });
  p.driver.putAvailHead(0);
});

for (const len of [0, 24]) {
  hostile(`indirect with len ${len}`, { indirect: true }, /not a non-zero multiple of 16/, (p) => {
    p.driver.writeDescriptor(0, { addr: buf(p, 32), len, flags: INDIRECT, next: 0 });
    p.driver.putAvailHead(0);
  });
}

hostile('indirect table over the entry limit', { indirect: true }, /indirect table of 65537 descriptors/, (p) => {
  p.driver.writeDescriptor(0, { addr: BASE, len: 16 * 65537, flags: INDIRECT, next: 0 });
  p.driver.putAvailHead(0);
});

hostile('indirect inside indirect', { indirect: true }, /INDIRECT descriptor inside an indirect table/, (p) => {
  const inner = buf(p, 16);
  const outer = buf(p, 32);
  p.driver.writeDescriptorAt(inner, { addr: buf(p), len: 16, flags: 0, next: 0 });
  p.driver.writeDescriptorAt(outer, { addr: buf(p), len: 16, flags: NEXT, next: 1 });
  p.driver.writeDescriptorAt(outer + 16, { addr: inner, len: 16, flags: INDIRECT, next: 0 });
  p.driver.writeDescriptor(0, { addr: outer, len: 32, flags: INDIRECT, next: 0 });
  p.driver.putAvailHead(0);
});

hostile('loop inside an indirect table', { indirect: true }, /longer than the indirect table of 3/, (p) => {
  const table = buf(p, 48);
  for (let i = 0; i < 3; i++) {
    p.driver.writeDescriptorAt(table + 16 * i, { addr: buf(p), len: 16, flags: NEXT, next: (i + 1) % 3 });
  }
  p.driver.writeDescriptor(0, { addr: table, len: 48, flags: INDIRECT, next: 0 });
  p.driver.putAvailHead(0);
});

hostile('next out of range inside an indirect table', { indirect: true }, /next 2 out of range \(indirect table of 2\)/, (p) => {
  const table = buf(p, 32);
  p.driver.writeDescriptorAt(table, { addr: buf(p), len: 16, flags: NEXT, next: 2 });
  p.driver.writeDescriptor(0, { addr: table, len: 32, flags: INDIRECT, next: 0 });
  p.driver.putAvailHead(0);
});

hostile('writable before readable', {}, /readable descriptor after a writable one/, (p) => {
  p.driver.addChain([
    { iova: buf(p), len: 16, write: true },
    { iova: buf(p), len: 16, write: false },
  ]);
});

hostile('writable direct descriptor before a readable indirect one', { indirect: true }, /readable descriptor after a writable/, (p) => {
  p.driver.addChain(
    [
      { iova: buf(p), len: 16, write: true },
      { iova: buf(p), len: 16, write: false },
    ],
    { indirect: { tableIova: buf(p, 16), direct: 1 } },
  );
});

hostile('order is checked even after a fault', {}, /readable descriptor after a writable/, (p) => {
  p.driver.writeDescriptor(0, { addr: buf(p), len: 0, flags: NEXT | WRITE, next: 1 });
  p.driver.writeDescriptor(1, { addr: buf(p), len: 16, flags: 0, next: 0 });
  p.driver.putAvailHead(0);
});

t.test('ring geometry and mapping are checked at construction', async (t) => {
  const mem = new TestGuestMemory(new Uint8Array(MEMORY_SIZE), BASE, { splits: [BASE + 0x1000 + 4], holes: [[BASE + 0x8000, BASE + 0x9000]] });
  const ok = { ...vringLayout(BASE, 16), eventIdx: true, indirect: true };
  const make = (o: Partial<typeof ok>) => () => new SplitQueue(mem, { ...ok, ...o });
  const error = (message: RegExp) => ({ name: 'VirtqueueError', message });
  t.throws(make({ size: 12 }), error(/queue size 12 is not a power of 2/));
  t.throws(make({ size: 65536 }), error(/not a power of 2 in 1..32768/));
  t.throws(make({ descAddr: BASE + 8 }), error(/descriptor table not 16-byte aligned/));
  t.throws(make({ driverAddr: BASE + 0x101 }), error(/avail ring not 2-byte aligned/));
  t.throws(make({ deviceAddr: BASE + 0x1002 }), error(/used ring not 4-byte aligned/));
  t.throws(make({ deviceAddr: BASE + 0x8000 }), error(/used ring at 0x\w+: unmapped/));
  t.throws(make({ deviceAddr: BASE + 0x1000 - 64 }), error(/used ring at 0x\w+ spans 2 mappings/));
  t.doesNotThrow(make({ deviceAddr: BASE + 0x2000 }));
  const ro = new TestGuestMemory(new Uint8Array(MEMORY_SIZE), BASE, { readOnly: [[BASE + 0x1000, BASE + 0x2000]] });
  t.throws(() => new SplitQueue(ro, ok), error(/used ring at 0x\w+: read-only/));
});
