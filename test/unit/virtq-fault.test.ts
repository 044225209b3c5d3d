// Structurally sound chains with unusable buffers: returned with `fault`,
// no readable views, and at most the last writable byte (chain.ts contract).
import t from 'tap';
import { VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE } from '../../src/shared/virtio.js';
import type { DescriptorChain } from '../../src/workers/virtq/chain.js';
import { BASE, MEMORY_SIZE, blkSegments, makePair } from '../helpers/virtq-fixture.js';
import type { PairOptions, QueuePair } from '../helpers/virtq-fixture.js';

const END = BASE + MEMORY_SIZE;

function popOne(pair: QueuePair): DescriptorChain {
  pair.driver.publishAvail();
  const chain = pair.queue.popChain();
  if (chain === null) throw new Error('no chain');
  return chain;
}

/** A read request whose data segment is replaced by `data`. */
function readRequest(options: PairOptions, data: { iova: number; len: number }) {
  const pair = makePair(options);
  const [header, , status] = blkSegments(pair, 512, true);
  if (header === undefined || status === undefined) throw new Error('unreachable');
  const head = pair.driver.addChain([header, { ...data, write: true }, status]);
  return { pair, status: status.iova, head, chain: popOne(pair) };
}

/**
 * What a fault chain holds, after writing 1 through its writable view:
 * expected {readable: 0, views: 1, writableBytes: 1, statusByte: 1}.
 */
function statusOnly(pair: QueuePair, chain: DescriptorChain, status: number) {
  chain.writable[0]?.set([1]);
  return {
    readable: chain.readable.length + chain.readableBytes,
    views: chain.writable.length,
    writableBytes: chain.writableBytes,
    statusByte: pair.bytesAt(status, 1)[0],
  };
}
const STATUS_ONLY = { readable: 0, views: 1, writableBytes: 1, statusByte: 1 };

t.test('zero-length descriptor', async (t) => {
  const { pair, chain, status, head } = readRequest({}, { iova: BASE + 0x5_0000, len: 0 });
  t.match(chain.fault, /zero-length/);
  t.equal(chain.head, head);
  t.same(statusOnly(pair, chain, status), STATUS_ONLY);
  t.equal(pair.mem.calls.filter((c) => c.iova === status).length, 1, 'no translation after the fault but the status byte');
  t.equal(pair.queue.lastAvailIdx, 1, 'a faulted chain is consumed');
  pair.queue.addUsed(chain.head, 1);
  pair.queue.publishUsed();
  t.same(pair.driver.getUsed(), [{ id: head, len: 1 }]);
});

t.test('a trailing zero-length writable descriptor does not hide the status byte', async (t) => {
  const pair = makePair();
  const [header, , status] = blkSegments(pair, 512, true);
  if (header === undefined || status === undefined) throw new Error('unreachable');
  pair.driver.addChain([header, status, { iova: pair.alloc(16), len: 0, write: true }]);
  const chain = popOne(pair);
  t.match(chain.fault, /zero-length/);
  t.same(statusOnly(pair, chain, status.iova), STATUS_ONLY);
});

t.test('address outside memory, status byte mappable', async (t) => {
  const { pair, chain, status } = readRequest({}, { iova: END, len: 512 });
  t.match(chain.fault, /unmapped/);
  t.same(statusOnly(pair, chain, status), STATUS_ONLY);
});

t.test('address outside memory, status byte in a hole', async (t) => {
  const hole = [BASE + 0x8_0000, BASE + 0x9_0000] as const;
  const pair = makePair({ holes: [hole] });
  const header = pair.alloc(16);
  pair.driver.addChain([
    { iova: header, len: 16, write: false },
    { iova: END + 4096, len: 512, write: true },
    { iova: hole[0] + 8, len: 1, write: true },
  ]);
  const chain = popOne(pair);
  t.match(chain.fault, /unmapped/);
  t.same([chain.readable, chain.writable, chain.writableBytes], [[], [], 0]);
});

t.test('read-only mapping used as writable', async (t) => {
  const ro = [BASE + 0x8_0000, BASE + 0x9_0000] as const;
  const { pair, chain, status } = readRequest({ readOnly: [ro] }, { iova: ro[0], len: 512 });
  t.match(chain.fault, /read-only/);
  t.same(statusOnly(pair, chain, status), STATUS_ONLY);
});

t.test('a read-only mapping is fine for readable buffers', async (t) => {
  const ro = [BASE + 0x8_0000, BASE + 0x9_0000] as const;
  const pair = makePair({ readOnly: [ro] });
  pair.driver.addChain([{ iova: ro[0], len: 64, write: false }, { iova: pair.alloc(1), len: 1, write: true }]);
  t.equal(popOne(pair).fault, null);
});

t.test('last writable byte mappable although its descriptor is not', async (t) => {
  const hole = [BASE + 0x8_0000, BASE + 0x8_1000] as const;
  const pair = makePair({ holes: [hole] });
  // One writable descriptor: data over the hole, status as its last byte.
  const last = hole[1] + 15;
  pair.driver.addChain([{ iova: pair.alloc(16), len: 16, write: false }, { iova: hole[1] - 512, len: 528, write: true }]);
  const chain = popOne(pair);
  t.match(chain.fault, /unmapped/);
  t.same(statusOnly(pair, chain, last), STATUS_ONLY);
});

t.test('descriptor address at or beyond 2^53', async (t) => {
  const pair = makePair();
  const status = pair.alloc(1);
  pair.driver.writeDescriptor(0, { addr: 2n ** 60n, len: 512, flags: VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, next: 1 });
  pair.driver.writeDescriptor(1, { addr: status, len: 1, flags: VRING_DESC_F_WRITE, next: 0 });
  pair.driver.putAvailHead(0);
  const chain = popOne(pair);
  t.match(chain.fault, /2\^53/);
  t.same(statusOnly(pair, chain, status), STATUS_ONLY);
  t.notOk(pair.mem.calls.some((c) => c.length === 512), 'the bad address was never translated');
});

t.test('chain over maxChainBytes', async (t) => {
  const pair = makePair({ maxChainBytes: 4096 });
  const segs = blkSegments(pair, 4096, true);
  pair.driver.addChain(segs);
  const chain = popOne(pair);
  t.match(chain.fault, /exceeds 4096 bytes/);
  t.same(statusOnly(pair, chain, segs[2]?.iova ?? 0), STATUS_ONLY);
  pair.driver.addChain(blkSegments(pair, 4096 - 17, true));
  t.equal(popOne(pair).fault, null, 'exactly at the limit is fine');
});

t.test('indirect table in unmapped memory', async (t) => {
  const pair = makePair({ indirect: true });
  pair.driver.writeDescriptor(5, { addr: END, len: 48, flags: VRING_DESC_F_INDIRECT, next: 0 });
  pair.driver.putAvailHead(5);
  const chain = popOne(pair);
  t.match(chain.fault, /indirect table/);
  t.same([chain.readable, chain.writable], [[], []]);
  t.equal(pair.queue.lastAvailIdx, 1);
});

t.test('a fault early in the chain still finds the status byte in an indirect table', async (t) => {
  const pair = makePair({ indirect: true });
  const table = pair.alloc(48);
  const segs = blkSegments(pair, 512, true);
  pair.driver.addChain([segs[0]!, { iova: pair.alloc(8), len: 0, write: true }, segs[2]!], {
    indirect: { tableIova: table },
  });
  const chain = popOne(pair);
  t.match(chain.fault, /zero-length/);
  t.same(statusOnly(pair, chain, segs[2]?.iova ?? 0), STATUS_ONLY);
});
