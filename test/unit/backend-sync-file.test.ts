/**
 * SyncFileBackend (preadv/pwritev on the calling thread, for memory file
 * systems) against real temporary files: every call completes before it
 * returns, with the same rules as the other file backends.
 */
import t from 'tap';
import * as fs from 'node:fs';
import { FileBackend } from '../../src/workers/backends/file.js';
import { SYNC_POOL_ABOVE, SyncFileBackend } from '../../src/workers/backends/sync-file.js';
import { ioUringUnavailable, tempDisk, readBack } from '../helpers/temp-disk.js';
import { UringFileBackend } from '../../src/workers/backends/uring-file.js';

const MiB = 1 << 20;


t.test('writev then readv across several views complete before returning', async (t) => {
  const { fd } = tempDisk(t, MiB);
  const backend = new SyncFileBackend(fd, MiB);
  t.equal(backend.io, 'sync');
  const views = [new Uint8Array(512).fill(1), new Uint8Array(3584).fill(2), new Uint8Array(512).fill(3)];
  t.equal(backend.writev(8192, views), undefined);
  t.same(readBack(fd, 8192, 4608), new Uint8Array(Buffer.concat(views)));
  t.equal(readBack(fd, 8191, 1)[0], 0xab, 'the byte before is untouched');
  t.equal(readBack(fd, 8192 + 4608, 1)[0], 0xab, 'the byte after is untouched');
  const into = [new Uint8Array(1000), new Uint8Array(3608)];
  t.equal(backend.readv(8192, into), undefined);
  t.same(new Uint8Array(Buffer.concat(into)), new Uint8Array(Buffer.concat(views)));
  t.equal(backend.flush(), undefined);
});

t.test('more views than IOV_MAX go in several calls (both pool and sync backends)', async (t) => {
  const { fd } = tempDisk(t, 2 * MiB);
  for (const backend of [new SyncFileBackend(fd, 2 * MiB, { poolAbove: Infinity }), new FileBackend(fd, 2 * MiB)]) {
    const fill = backend instanceof FileBackend ? 0x40 : 0x80;
    const views = Array.from({ length: 2500 }, (_, i) => new Uint8Array(512).fill((i + fill) & 0xff));
    await backend.writev(0, views);
    const disk = readBack(fd, 0, 2500 * 512);
    t.ok(views.every((_, i) => disk[i * 512] === ((i + fill) & 0xff) && disk[i * 512 + 511] === ((i + fill) & 0xff)), `${backend.io}: written`);
    const into = Array.from({ length: 2500 }, () => new Uint8Array(512));
    await backend.readv(0, into);
    t.ok(into.every((v, i) => v.every((b) => b === ((i + fill) & 0xff))), `${backend.io}: read back`);
  }
});

t.test('requests above poolAbove go to the thread pool; the rest complete inline', async (t) => {
  const { fd } = tempDisk(t, MiB);
  const backend = new SyncFileBackend(fd, MiB);
  const small = new Uint8Array(SYNC_POOL_ABOVE);
  t.equal(backend.readv(0, [small]), undefined, `${SYNC_POOL_ABOVE} bytes: inline`);
  const big = new Uint8Array(SYNC_POOL_ABOVE + 512).fill(0x77);
  const pending = backend.writev(65536, [big]);
  t.type(pending, Promise, 'one sector more: the pool');
  await pending;
  t.ok(readBack(fd, 65536, big.length).every((b) => b === 0x77), 'the pooled write landed');
  const into = new Uint8Array(big.length);
  await backend.readv(65536, [into]);
  t.ok(into.every((b) => b === 0x77), 'the pooled read filled the buffer');
});

t.test('bulkReads: large reads go to the given backend (an io_uring one), large writes to the pool; close closes it', { skip: ioUringUnavailable() ?? false }, async (t) => {
  const { fd } = tempDisk(t, MiB, 0x21);
  const ring = new UringFileBackend(fd, MiB);
  let ringReads = 0;
  const realReadv = ring.readv.bind(ring);
  ring.readv = (offset, bufs) => { ringReads++; return realReadv(offset, bufs); };
  const backend = new SyncFileBackend(fd, MiB, { bulkReads: ring });
  t.equal(backend.bulkIo, 'uring');
  const big = new Uint8Array(SYNC_POOL_ABOVE * 2);
  await backend.readv(0, [big]);
  t.equal(ringReads, 1, 'the large read went to the ring');
  t.ok(big.every((b) => b === 0x21), 'and filled the buffer');
  backend.readv(0, [new Uint8Array(4096)]);
  t.equal(ringReads, 1, 'a small one did not');
  await backend.writev(0, [new Uint8Array(SYNC_POOL_ABOVE * 2).fill(0x43)]);
  t.equal(ringReads, 1);
  t.ok(readBack(fd, 0, SYNC_POOL_ABOVE * 2).every((b) => b === 0x43), 'the large write landed');
  await backend.close();
  t.equal((ring as unknown as { ring: unknown }).ring, null, 'its ring was closed with the backend');
  t.equal(new SyncFileBackend(fd, MiB).bulkIo, 'threads', 'without one: the pool');
});

t.test('a read past the end of a short file zero-fills the rest', async (t) => {
  const { fd } = tempDisk(t, 1024);
  const backend = new SyncFileBackend(fd, 4096);
  const a = new Uint8Array(768).fill(0xee);
  const b = new Uint8Array(1024).fill(0xee);
  backend.readv(512, [a, b]);
  t.ok(a.subarray(0, 512).every((x) => x === 0xab));
  t.ok(a.subarray(512).every((x) => x === 0) && b.every((x) => x === 0));
});

t.test('errors throw synchronously with the fs error shape; checks as the other backends', async (t) => {
  const { fd, file } = tempDisk(t, 4096);
  const ro = fs.openSync(file, 'r');
  t.teardown(() => fs.closeSync(ro));
  t.throws(() => new SyncFileBackend(ro, 4096).writev(0, [new Uint8Array(512)]), { code: 'EBADF' });
  const readOnly = new SyncFileBackend(fd, 4096, { readOnly: true, writethrough: true });
  t.equal(readOnly.readOnly, true);
  t.equal(readOnly.writethrough, true);
  t.throws(() => readOnly.writev(0, [new Uint8Array(512)]), { code: 'EROFS' });
  t.throws(() => readOnly.discard(0, 512), { code: 'EROFS' });
  t.throws(() => readOnly.readv(4096, [new Uint8Array(512)]), RangeError);
  t.equal(readOnly.readv(0, []), undefined, 'an empty read is done at once');
  // Above poolAbove the same checks are the pool backend's.
  const bulk = new SyncFileBackend(fd, 4096, { readOnly: true, poolAbove: 512 });
  t.throws(() => bulk.writev(0, [new Uint8Array(1024)]), { code: 'EROFS' }, 'a large write to a read-only disk');
  t.throws(() => bulk.readv(3584, [new Uint8Array(1024)]), RangeError, 'a large read past the end');
  t.ok(readBack(fd, 0, 4096).every((b) => b === 0xab), 'nothing was written');
});

t.test('discard and write-zeroes', async (t) => {
  const { fd } = tempDisk(t, 4 * MiB);
  const backend = new SyncFileBackend(fd, 4 * MiB);
  await backend.discard(MiB, MiB);
  await backend.writeZeroes(0, 4096, false);
  t.ok(readBack(fd, MiB, MiB).every((b) => b === 0) && readBack(fd, 0, 4096).every((b) => b === 0));
  t.equal(readBack(fd, 4096, 1)[0], 0xab);
  t.equal(fs.fstatSync(fd).size, 4 * MiB, 'KEEP_SIZE');
  backend.close();
  t.ok(fs.fstatSync(fd).isFile(), 'close leaves the fd open');
});
