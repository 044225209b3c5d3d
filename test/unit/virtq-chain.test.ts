// Well-formed chains: direct, indirect and mixed shapes, views that alias
// guest memory, completion through the used ring.
import t from 'tap';
import { VRING_DESC_F_INDIRECT, VRING_DESC_F_WRITE } from '../../src/shared/virtio.js';
import type { DescriptorChain } from '../../src/workers/virtq/chain.js';
import { blkSegments, makePair } from '../helpers/virtq-fixture.js';
import type { QueuePair } from '../helpers/virtq-fixture.js';

function pop(pair: QueuePair): DescriptorChain {
  const chain = pair.queue.popChain();
  if (chain === null) throw new Error('no chain');
  return chain;
}

const lengths = (views: Uint8Array[]): number[] => views.map((v) => v.byteLength);

t.test('empty ring pops null', async (t) => {
  const pair = makePair();
  t.equal(pair.queue.hasAvailable(), false);
  t.equal(pair.queue.popChain(), null);
  pair.driver.addChain(blkSegments(pair, 512, true));
  t.equal(pair.queue.popChain(), null, 'added but not published');
  pair.driver.publishAvail();
  t.equal(pair.queue.hasAvailable(), true);
  t.equal(pair.queue.availIdx(), 1);
});

t.test('knownAvailable counts the chains seen at the last avail.idx load and not yet popped', async (t) => {
  const pair = makePair();
  for (let i = 0; i < 3; i++) pair.driver.addChain(blkSegments(pair, 512, true));
  pair.driver.publishAvail();
  t.equal(pair.queue.knownAvailable, 0, 'nothing known before avail.idx is read');
  pop(pair);
  t.equal(pair.queue.knownAvailable, 2, 'three seen, one popped');
  pair.driver.addChain(blkSegments(pair, 512, true));
  pair.driver.publishAvail();
  t.equal(pair.queue.knownAvailable, 2, 'a chain published since is not known until avail.idx is read again');
  pop(pair);
  pop(pair);
  t.equal(pair.queue.knownAvailable, 0);
  pop(pair);
  t.equal(pair.queue.knownAvailable, 0, 'the re-read found the fourth, now popped');
  t.equal(pair.queue.popChain(), null);
});

t.test('direct read request: header readable, data and status writable', async (t) => {
  const pair = makePair();
  const segs = blkSegments(pair, 4096, true);
  const head = pair.driver.addChain(segs);
  pair.driver.publishAvail();
  const chain = pop(pair);
  t.equal(chain.head, head);
  t.equal(chain.fault, null);
  t.same(lengths(chain.readable), [16]);
  t.same(lengths(chain.writable), [4096, 1]);
  t.equal(chain.readableBytes, 16);
  t.equal(chain.writableBytes, 4097);
  t.ok(chain.readable[0]?.every((b) => b === 0xaa), 'header bytes seen');
  chain.writable[1]?.set([0]);
  t.equal(pair.bytesAt(segs[2]?.iova ?? 0, 1)[0], 0, 'status written through the view');
  t.equal(pair.queue.lastAvailIdx, 1);
  t.equal(pair.queue.popChain(), null);
});

t.test('direct write and flush requests', async (t) => {
  const pair = makePair();
  pair.driver.addChain(blkSegments(pair, 1024, false));
  const header = pair.alloc(16);
  const status = pair.alloc(1);
  pair.driver.addChain([
    { iova: header, len: 16, write: false },
    { iova: status, len: 1, write: true },
  ]);
  pair.driver.publishAvail();
  const write = pop(pair);
  t.same(lengths(write.readable), [16, 1024]);
  t.ok(write.readable[1]?.every((b) => b === 0xbb));
  t.same(lengths(write.writable), [1]);
  const flush = pop(pair);
  t.same([flush.readableBytes, flush.writableBytes], [16, 1]);
});

t.test('framing is not assumed: merged buffers, readable-only, writable-only', async (t) => {
  const pair = makePair();
  const merged = pair.alloc(16 + 512);
  pair.driver.addChain([{ iova: merged, len: 528, write: false }, { iova: pair.alloc(513), len: 513, write: true }]);
  pair.driver.addChain([{ iova: pair.alloc(8), len: 8, write: false }]);
  pair.driver.addChain([{ iova: pair.alloc(8), len: 8, write: true }]);
  pair.driver.publishAvail();
  t.same(lengths(pop(pair).readable), [528]);
  const readOnly = pop(pair);
  t.same([readOnly.readableBytes, readOnly.writable.length], [8, 0]);
  const writeOnly = pop(pair);
  t.same([writeOnly.readable.length, writeOnly.writableBytes], [0, 8]);
});

t.test('a buffer crossing two mappings gives two views', async (t) => {
  const pair = makePair({ splits: [0x15_0000] });
  const data = 0x15_0000 - 100;
  pair.driver.addChain([{ iova: data, len: 200, write: false }]);
  pair.driver.publishAvail();
  const chain = pop(pair);
  t.same(lengths(chain.readable), [100, 100]);
  t.equal(chain.readableBytes, 200);
});

t.test('indirect chain', async (t) => {
  const pair = makePair({ indirect: true });
  const table = pair.alloc(3 * 16);
  const segs = blkSegments(pair, 2048, true);
  const head = pair.driver.addChain(segs, { indirect: { tableIova: table } });
  pair.driver.publishAvail();
  t.equal(pair.driver.numFree, 15, 'one ring descriptor used');
  const chain = pop(pair);
  t.equal(chain.head, head);
  t.equal(chain.fault, null);
  t.same(lengths(chain.readable), [16]);
  t.same(lengths(chain.writable), [2048, 1]);
  t.ok(pair.mem.calls.some((c) => c.iova === table && c.length === 48 && !c.write), 'table translated read-only');
});

t.test('indirect tables at the same IOVA in two memories are each read from their own', async (t) => {
  // The walk keeps one DataView over the last table's mapping: a table in
  // another buffer must replace it, never be read through the old one.
  const a = makePair({ indirect: true });
  const b = makePair({ indirect: true });
  for (let round = 0; round < 3; round++) {
    for (const [pair, len] of [[a, 512], [b, 4096]] as const) {
      const table = pair.alloc(3 * 16);
      pair.driver.addChain(blkSegments(pair, len, true), { indirect: { tableIova: table } });
      pair.driver.publishAvail();
      const chain = pop(pair);
      t.equal(chain.fault, null);
      t.same(lengths(chain.writable), [len, 1], `round ${round}: the table of the ${len}-byte request`);
    }
  }
});

t.test('direct descriptors followed by an indirect tail', async (t) => {
  const pair = makePair({ indirect: true });
  const table = pair.alloc(2 * 16);
  const head = pair.driver.addChain(blkSegments(pair, 512, true), { indirect: { tableIova: table, direct: 1 } });
  pair.driver.publishAvail();
  t.equal(pair.driver.numFree, 14);
  const chain = pop(pair);
  t.equal(chain.head, head);
  t.same([lengths(chain.readable), lengths(chain.writable)], [[16], [512, 1]]);
});

t.test('WRITE on the indirect descriptor itself is ignored', async (t) => {
  const pair = makePair({ indirect: true });
  const table = pair.alloc(16);
  const buf = pair.alloc(64, 0x42);
  pair.driver.writeDescriptorAt(table, { addr: buf, len: 64, flags: 0, next: 0 });
  pair.driver.writeDescriptor(3, { addr: table, len: 16, flags: VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, next: 0 });
  pair.driver.putAvailHead(3);
  pair.driver.publishAvail();
  const chain = pop(pair);
  t.same([chain.readableBytes, chain.writableBytes], [64, 0]);
});

t.test('an indirect table crossing two mappings is still read', async (t) => {
  const pair = makePair({ indirect: true, splits: [0x14_0000 + 32] });
  const table = pair.alloc(64);
  t.equal(table, 0x14_0000);
  pair.driver.addChain(blkSegments(pair, 512, true), { indirect: { tableIova: table } });
  pair.driver.publishAvail();
  const chain = pop(pair);
  t.equal(chain.fault, null);
  t.same(lengths(chain.writable), [512, 1]);
});

t.test('completion: used element, used.idx, descriptors freed', async (t) => {
  const pair = makePair();
  const head = pair.driver.addChain(blkSegments(pair, 512, true));
  pair.driver.publishAvail();
  t.equal(pair.driver.numFree, 13);
  const chain = pop(pair);
  pair.queue.addUsed(chain.head, 513);
  t.equal(pair.queue.publishUsed(), 1);
  t.same(pair.driver.usedElement(0), { id: head, len: 513 });
  t.equal(pair.driver.usedIdx(), 1);
  t.same(pair.driver.getUsed(), [{ id: head, len: 513 }]);
  t.equal(pair.driver.numFree, 16);
});

t.test('a chain of exactly queue-size descriptors is accepted', async (t) => {
  const pair = makePair({ size: 4 });
  const segs = [0, 1, 2, 3].map(() => ({ iova: pair.alloc(4), len: 4, write: false }));
  pair.driver.addChain(segs);
  pair.driver.publishAvail();
  t.equal(pop(pair).readable.length, 4);
});
