/**
 * Completion (backends/completion.ts): a backend's pending result that calls
 * its listener synchronously when settled, and still works as a promise for
 * callers that await it; and handleChainThen, which takes the listener path
 * (no promise) and says so to the queue loop (`batched`).
 */
import t from 'tap';
import { Completion } from '../../src/workers/backends/completion.js';
import { handleChain, handleChainThen } from '../../src/workers/blk/handle-chain.js';
import type { BlockBackend } from '../../src/workers/backends/backend.js';
import type { DescriptorChain } from '../../src/workers/virtq/chain.js';
import { VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT } from '../../src/shared/virtio.js';
import { S_IOERR, S_OK, chainOf, header, pattern, patternedDisk, settingsWith, stale } from './blk-helpers.js';

t.test('listeners run on the stack of settle(), in order, once', async (t) => {
  const c = new Completion();
  const seen: string[] = [];
  c.whenSettled((e) => seen.push(`a:${String(e)}`));
  c.whenSettled((e) => seen.push(`b:${String(e)}`));
  t.same(seen, [], 'nothing before settle');
  c.settle(null);
  t.same(seen, ['a:null', 'b:null'], 'both, synchronously, in subscription order');
  c.settle(new Error('late'));
  t.same(seen, ['a:null', 'b:null'], 'a second settle is ignored');
  c.whenSettled((e) => seen.push(`c:${String(e)}`));
  t.same(seen, ['a:null', 'b:null', 'c:null'], 'a listener added after settling runs at once, with the outcome');
});

t.test('as a promise: await resolves, and an error rejects', async (t) => {
  const ok = new Completion();
  const failed = new Completion();
  const error = Object.assign(new Error('EIO: preadv failed (io_uring)'), { code: 'EIO' });
  setImmediate(() => {
    ok.settle(null);
    failed.settle(error);
  });
  t.equal(await ok, undefined);
  await t.rejects(Promise.resolve(failed), error);
  // then() after settling, and twice: the same outcome each time.
  t.equal(await ok.then(() => 'again'), 'again');
  t.equal(await failed.then(() => 'no', (e: unknown) => (e as Error).message), error.message);
});

t.test('a throwing listener does not stop the others and is reported as uncaught', async (t) => {
  const c = new Completion();
  const seen: string[] = [];
  const reported = new Promise<unknown>((resolve) => {
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.once('uncaughtException', (e) => {
      for (const l of listeners) process.on('uncaughtException', l);
      resolve(e);
    });
  });
  c.whenSettled(() => {
    throw new Error('listener bug');
  });
  c.whenSettled(() => seen.push('second'));
  c.settle(null);
  t.same(seen, ['second'], 'the next listener ran');
  t.match(await reported, { message: 'listener bug' });
});

/** A backend whose reads and writes complete later, through Completions the test settles. */
function completionBackend(): { backend: BlockBackend; pending: Array<{ c: Completion; run(): void }> } {
  const { backend: disk } = patternedDisk();
  const pending: Array<{ c: Completion; run(): void }> = [];
  const later = (run: () => void): Completion => {
    const c = new Completion();
    pending.push({ c, run });
    return c;
  };
  return {
    pending,
    backend: {
      size: disk.size,
      readv: (offset, bufs) => later(() => disk.readv(offset, bufs)),
      writev: (offset, bufs) => later(() => disk.writev(offset, bufs)),
      flush: () => disk.flush(),
      discard: (o, l) => disk.discard(o, l),
      writeZeroes: (o, l, u) => disk.writeZeroes(o, l, u),
      close: () => disk.close(),
    },
  };
}

t.test('handleChainThen: a Completion is answered by its listener, batched, with no promise in between', async (t) => {
  const { backend, pending } = completionBackend();
  const done: Array<[DescriptorChain, number, boolean]> = [];
  const data = stale(1024);
  const status = stale(1);
  const chain = chainOf([header(VIRTIO_BLK_T_IN, 5n)], [data, status]);
  t.equal(handleChainThen(chain, settingsWith(), backend, (...a) => done.push(a)), undefined, 'pending');
  t.equal(status[0], 0xee, 'no status before the backend settles');
  pending[0]!.run();
  pending[0]!.c.settle(null);
  t.equal(done.length, 1, 'done was called on the stack of settle()');
  t.equal(done[0]![0], chain);
  t.equal(done[0]![1], 1025, 'len: every writable byte');
  t.equal(done[0]![2], true, 'batched');
  t.same(data, pattern(5 * 512, 1024));
  t.equal(status[0], S_OK);
});

t.test('handleChainThen: a Completion that fails gives IOERR with the data zeroed', async (t) => {
  const { backend, pending } = completionBackend();
  const done: Array<[number, boolean]> = [];
  const data = stale(512);
  const status = stale(1);
  handleChainThen(chainOf([header(VIRTIO_BLK_T_IN, 1n)], [data, status]), settingsWith(), backend, (_c, len, b) => done.push([len, b]));
  pending[0]!.c.settle(Object.assign(new Error('EIO'), { code: 'EIO' }));
  t.same(done, [[513, true]]);
  t.equal(status[0], S_IOERR);
  t.same(data, new Uint8Array(512), 'no stale bytes handed to the driver');
});

t.test('handleChainThen: a promise-returning backend is answered in a reaction, not batched', async (t) => {
  const { backend: disk } = patternedDisk();
  const backend: BlockBackend = { ...disk, size: disk.size, writev: (o, b) => Promise.resolve().then(() => disk.writev(o, b)),
    readv: (o, b) => disk.readv(o, b), flush: () => disk.flush(), discard: (o, l) => disk.discard(o, l),
    writeZeroes: (o, l, u) => disk.writeZeroes(o, l, u), close: () => disk.close() };
  const status = stale(1);
  const got = await new Promise<[number, boolean]>((resolve) => {
    const now = handleChainThen(chainOf([header(VIRTIO_BLK_T_OUT, 2n), new Uint8Array(512).fill(9)], [status]),
      settingsWith(), backend, (_c, len, batched) => resolve([len, batched]));
    t.equal(now, undefined, 'pending');
  });
  t.same(got, [1, false]);
  t.equal(status[0], S_OK);
});

t.test('a Completion already settled when the backend returns it: done at once, and handleChain returns the len', async (t) => {
  const { backend: disk } = patternedDisk();
  const settledRead: BlockBackend = { size: disk.size, writev: (o, b) => disk.writev(o, b),
    readv: (o, b) => {
      disk.readv(o, b);
      const c = new Completion();
      c.settle(null);
      return c;
    },
    flush: () => disk.flush(), discard: (o, l) => disk.discard(o, l),
    writeZeroes: (o, l, u) => disk.writeZeroes(o, l, u), close: () => disk.close() };
  const done: Array<[number, boolean]> = [];
  const status = stale(1);
  const data = stale(512);
  t.equal(handleChainThen(chainOf([header(VIRTIO_BLK_T_IN, 4n)], [data, status]), settingsWith(), settledRead,
    (_c, len, b) => done.push([len, b])), undefined, 'reported through done');
  t.same(done, [[513, true]], 'done already called');
  t.equal(status[0], S_OK);
  const status2 = stale(1);
  t.equal(handleChain(chainOf([header(VIRTIO_BLK_T_IN, 4n)], [stale(512), status2]), settingsWith(), settledRead), 513,
    'handleChain: the len, synchronously');
  t.equal(status2[0], S_OK);
});
