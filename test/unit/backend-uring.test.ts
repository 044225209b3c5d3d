/**
 * UringFileBackend against real temporary files (the same ground as
 * backend-file.test.ts), plus what is its own: inline completion, more
 * requests than the ring holds, fail-over, and openFileBackend's choice
 * between io_uring and the thread pool. Skips the io_uring parts, saying
 * why, where io_uring is unavailable.
 */
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { native, type NativeError } from '../../src/shared/native.js';
import { FileBackend } from '../../src/workers/backends/file.js';
import { openFileBackend } from '../../src/workers/backends/index.js';
import { UringFileBackend, type UringFileBackendOptions } from '../../src/workers/backends/uring-file.js';
import { Completion } from '../../src/workers/backends/completion.js';
import { SyncFileBackend } from '../../src/workers/backends/sync-file.js';
import { onMemoryFileSystem } from '../../src/workers/backends/index.js';
import { hasAddon, ioUringUnavailable, tempDisk, type Tap, readBack, vectoredRoundTrip } from '../helpers/temp-disk.js';

const MiB = 1 << 20;
/** statfs types of tmpfs, ramfs, hugetlbfs. */
const MEMORY_FS = new Set([0x01021994, 0x858458f6, 0x958458f6]);

const reason = ioUringUnavailable();
const opts = reason === null ? {} : { skip: reason };
if (reason !== null) t.comment(`skipping io_uring backend tests: ${reason}`);



/** A backend closed after the test (before its fd is: teardowns run in reverse). */
function uring(t: Tap, fd: number, size: number, options?: UringFileBackendOptions): UringFileBackend {
  // Writes through the ring too, unless a test says otherwise (the default sends a regular file's to the pool).
  const backend = new UringFileBackend(fd, size, { writes: 'uring', ...options });
  t.teardown(() => backend.close());
  return backend;
}


const isZero = (bytes: Uint8Array) => bytes.every((b) => b === 0);

/** A backend call as a promise, whether it completed inline (returned or threw) or not. */
const settled = (call: () => void | PromiseLike<void>): Promise<void> => Promise.resolve().then(call);

t.test('writev then readv across several views, at an offset', opts, async (t) => {
  const { fd } = tempDisk(t, MiB);
  const backend = uring(t, fd, MiB);
  t.equal(backend.io, 'uring');
  await vectoredRoundTrip(t, backend, fd);
});

t.test('an op that completes through the eventfd settles its Completion: the listener runs as the CQ is reaped', opts, async (t) => {
  const { fd } = tempDisk(t, MiB);
  const backend = uring(t, fd, MiB);
  // fdatasync always runs on io-wq, so it is pending when run() returns,
  // unless io-wq finished it before the reap right after the submit: try
  // until one is pending (nearly always the first).
  let pending: void | PromiseLike<void> = undefined;
  for (let i = 0; i < 50 && pending === undefined; i++) {
    await backend.writev(8192, [new Uint8Array(4096).fill(0x3c + i)]);
    pending = backend.flush();
  }
  t.type(pending, Completion, 'pending: a Completion, not a promise');
  const outcome = await new Promise<Error | null>((resolve) => (pending as Completion).whenSettled(resolve));
  t.equal(outcome, null, 'settled without an error');
  t.equal(await pending, undefined, 'and it still works as a promise');
});

t.test('views straight into a SharedArrayBuffer (as guest memory is)', opts, async (t) => {
  const { fd } = tempDisk(t, 64 * 1024);
  const backend = uring(t, fd, 64 * 1024);
  const guest = new Uint8Array(new SharedArrayBuffer(8192));
  await backend.readv(0, [guest.subarray(100, 612), guest.subarray(2000, 2512)]);
  t.ok(guest.subarray(100, 612).every((b) => b === 0xab));
  t.equal(guest[99], 0);
  guest.fill(0x5c, 4096);
  await backend.writev(4096, [guest.subarray(4096)]);
  t.ok(readBack(fd, 4096, 4096).every((b) => b === 0x5c));
});

t.test('a page-cache hit completes inline: no promise, the data is there on return', opts, async (t) => {
  const { fd } = tempDisk(t, MiB, 0x42);
  const backend = uring(t, fd, MiB);
  readBack(fd, 0, MiB); // into the page cache
  let inline = 0;
  for (let i = 0; i < 32; i++) {
    const buf = new Uint8Array(4096);
    const result = backend.readv(i * 4096, [buf]);
    if (result === undefined) {
      inline++;
      t.ok(buf.every((b) => b === 0x42), `read ${i} filled on return`);
    } else {
      await result;
    }
  }
  // ext4, xfs and btrfs read cached pages without blocking (FMODE_NOWAIT); tmpfs does not (SyncFileBackend is for it).
  t.ok(inline > 0, `${inline} of 32 cached reads completed inline`);
});

t.test('more views than IOV_MAX: several SQEs in turn', opts, async (t) => {
  const { fd } = tempDisk(t, 2 * MiB);
  const backend = uring(t, fd, 2 * MiB);
  const views = Array.from({ length: 2500 }, (_, i) => new Uint8Array(512).fill(i & 0xff));
  await backend.writev(0, views);
  const disk = readBack(fd, 0, 2500 * 512);
  t.ok(views.every((v, i) => disk[i * 512] === (i & 0xff) && disk[i * 512 + 511] === (i & 0xff)));
  const into = Array.from({ length: 2500 }, () => new Uint8Array(512));
  await backend.readv(0, into);
  t.ok(into.every((v, i) => v.every((b) => b === (i & 0xff))));
});

t.test('O_DIRECT: reads and writes that go to the disk complete later, through the eventfd', opts, async (t) => {
  const { file } = tempDisk(t, MiB, 0x6d);
  const n = native();
  let fd: number;
  try {
    fd = n.open(file, n.constants.O_RDWR | n.constants.O_DIRECT);
  } catch (error) {
    t.pass(`skipped: this file system refuses O_DIRECT (${(error as NativeError).code})`);
    return;
  }
  t.teardown(() => n.close(fd));
  // Page-aligned memory, as O_DIRECT wants (and as guest memory is).
  const memfd = n.memfdCreate('uring-direct', n.constants.MFD_CLOEXEC);
  n.ftruncate(memfd, 65536);
  const mem = new Uint8Array(n.mmap(memfd, 0, 65536, n.constants.PROT_READ | n.constants.PROT_WRITE, n.constants.MAP_SHARED));
  n.close(memfd);
  const backend = uring(t, fd, MiB);
  const reads = Array.from({ length: 8 }, (_, i) => backend.readv(i * 65536, [mem.subarray(i * 8192, i * 8192 + 8192)]));
  await Promise.all(reads);
  t.ok(mem.subarray(0, 65536).every((b) => b === 0x6d), 'eight direct reads');
  mem.fill(0x2e, 0, 16384);
  await backend.writev(4096, [mem.subarray(0, 4096), mem.subarray(4096, 16384)]);
  await backend.flush();
  const back = new Uint8Array(16384 + 2);
  const plain = fs.openSync(file, 'r');
  fs.readSync(plain, back, 0, back.length, 4095);
  fs.closeSync(plain);
  t.equal(back[0], 0x6d);
  t.ok(back.subarray(1, 16385).every((b) => b === 0x2e), 'the direct write landed');
  t.equal(back[16385], 0x6d);
});

t.test('a read past the end of a short file zero-fills the rest', opts, async (t) => {
  const { fd } = tempDisk(t, 1024);
  const backend = uring(t, fd, 4096); // the device claims more than the file holds
  const a = new Uint8Array(768).fill(0xee);
  const b = new Uint8Array(1024).fill(0xee);
  await backend.readv(512, [a, b]);
  t.ok(a.subarray(0, 512).every((x) => x === 0xab));
  t.ok(isZero(a.subarray(512)) && isZero(b));
});

t.test('concurrent requests, more than the ring holds at once', opts, async (t) => {
  const { fd } = tempDisk(t, 64 * MiB);
  const backend = uring(t, fd, 64 * MiB);
  const count = 1200; // the CQ has 512 entries: the rest wait in the backlog
  const writes = Array.from({ length: count }, (_, i) => backend.writev(i * 16384, [new Uint8Array(16384).fill(i & 0xff)]));
  await Promise.all(writes);
  const reads = Array.from({ length: count }, () => new Uint8Array(16384));
  await Promise.all(reads.map((r, i) => backend.readv(i * 16384, [r])));
  t.ok(reads.every((r, i) => r.every((b) => b === (i & 0xff))), 'every read saw its write');
  t.equal(await backend.flush(), undefined);
});

t.test('flush is fdatasync; errors reject with the fs error shape', opts, async (t) => {
  const { fd, file } = tempDisk(t, 4096);
  const backend = uring(t, fd, 4096);
  // fdatasync may complete inline (nothing dirty) or through the eventfd: both are fine.
  t.equal(await backend.flush(), undefined, 'flush resolves');

  const ro = fs.openSync(file, 'r');
  t.teardown(() => fs.closeSync(ro));
  const readOnlyFd = uring(t, ro, 4096); // the backend allows writes; the fd does not
  await t.rejects(settled(() => readOnlyFd.writev(0, [new Uint8Array(512)])), { code: 'EBADF', errno: -9, syscall: 'pwritev' });
  const closedFd = fs.openSync('/dev/null', 'r');
  const closed = uring(t, closedFd, 4096); // before the close: the ring's own fds must not take its number
  fs.closeSync(closedFd);
  await t.rejects(settled(() => closed.flush()), { code: 'EBADF', syscall: 'fdatasync' });
  await t.rejects(settled(() => closed.readv(0, [new Uint8Array(512)])), { code: 'EBADF', syscall: 'preadv' });
});

t.test('range checks, read-only, close leaves the fd open', opts, async (t) => {
  const { fd } = tempDisk(t, 4096);
  const ro = new UringFileBackend(fd, 4096, { readOnly: true, writethrough: true });
  t.equal(ro.readOnly, true);
  t.equal(ro.writethrough, true);
  t.throws(() => ro.writev(0, [new Uint8Array(512)]), { code: 'EROFS' });
  t.throws(() => ro.discard(0, 512), { code: 'EROFS' });
  t.throws(() => ro.writeZeroes(0, 512, false), { code: 'EROFS' });
  t.throws(() => ro.readv(4096, [new Uint8Array(512)]), RangeError);
  t.equal(ro.readv(0, []), undefined, 'an empty read is done at once');
  ro.close();
  t.ok(fs.fstatSync(fd).isFile(), 'the fd is still open');
  t.ok(readBack(fd, 0, 4096).every((b) => b === 0xab));
});

t.test('discard punches a hole; writeZeroes with and without unmap (FileBackend\'s fallocate logic)', opts, async (t) => {
  const { fd } = tempDisk(t, 4 * MiB);
  fs.fsyncSync(fd);
  const backend = uring(t, fd, 4 * MiB);
  const before = fs.fstatSync(fd).blocks;
  t.equal(backend.discard(MiB, MiB), undefined, 'synchronous when fallocate works');
  t.ok(fs.fstatSync(fd).blocks < before, 'blocks were freed');
  t.ok(isZero(readBack(fd, MiB, MiB)));
  await backend.writeZeroes(0, 4096, false);
  await backend.writeZeroes(3 * MiB, 4096, true);
  t.ok(isZero(readBack(fd, 0, 4096)) && isZero(readBack(fd, 3 * MiB, 4096)));
  t.equal(readBack(fd, 4096, 1)[0], 0xab);
  t.equal(readBack(fd, MiB - 1, 1)[0], 0xab);
  t.equal(fs.fstatSync(fd).size, 4 * MiB, 'KEEP_SIZE');
});

t.test('a ring that refuses to submit: everything goes to the thread pool, nothing is lost', opts, async (t) => {
  const { fd } = tempDisk(t, MiB, 0x11);
  const backend = uring(t, fd, MiB);
  // Requests in flight in the ring (an fdatasync usually waits for the
  // eventfd; if one completed inline there is simply less to redo), then the ring breaks.
  const inFlight = [backend.flush(), backend.flush()];
  const ring = (backend as unknown as { ring: object }).ring;
  // The addon's methods are read-only on the prototype: shadow this one on the instance.
  Object.defineProperty(ring, 'submit', {
    value: () => {
      throw Object.assign(new Error('io_uring_enter: Operation not permitted (EPERM)'), { code: 'EPERM' });
    },
  });
  const first = new Uint8Array(512);
  const pending = backend.readv(0, [first]);
  t.type(pending, Completion, 'pending: the ring took it, then it is redone on the thread pool');
  await Promise.all([pending, ...inFlight]);
  t.ok(first.every((b) => b === 0x11), 'the request that met the refusal completed');
  t.match(backend.failedOver, { code: 'EPERM' });
  const buf = new Uint8Array(512);
  const later = backend.readv(512, [buf]);
  t.type(later, Promise, 'later requests go to the thread pool');
  await later;
  t.ok(buf.every((b) => b === 0x11));
  await backend.writev(0, [new Uint8Array(512).fill(0x22)]);
  await backend.flush();
  t.equal(readBack(fd, 0, 1)[0], 0x22);
});

t.test('openFileBackend: io_uring by default, VDUSE_BLK_IO forces one', async (t) => {
  const { fd } = tempDisk(t, 4096);
  const descriptor = { kind: 'file', fd, size: 4096, readOnly: false } as const;
  const threads = openFileBackend(descriptor, 'threads');
  t.type(threads, FileBackend);
  t.equal(threads.io, 'threads');
  t.throws(() => openFileBackend(descriptor, 'aio'), /VDUSE_BLK_IO=aio: expected auto, uring, threads, sync/);
  if (reason !== null) {
    t.equal(openFileBackend(descriptor).io, 'threads', `falls back: ${reason}`);
    return;
  }
  for (const io of [undefined, '', 'auto', 'uring']) {
    const backend = openFileBackend(descriptor, io);
    t.type(backend, UringFileBackend, `VDUSE_BLK_IO=${String(io)}`);
    t.equal(backend.io, 'uring');
    t.equal((backend as UringFileBackend).writeIo, 'threads', 'a regular file\'s writes go to the pool');
    backend.close();
  }
  const sync = openFileBackend(descriptor, 'sync');
  t.type(sync, SyncFileBackend, 'VDUSE_BLK_IO=sync');
  t.equal(sync.io, 'sync');
  await sync.close();
});

t.test('default writes: a regular file\'s go to the thread pool, not through the ring', opts, async (t) => {
  const { fd } = tempDisk(t, MiB, 0);
  const backend = new UringFileBackend(fd, MiB);
  t.teardown(() => backend.close());
  t.equal(backend.writeIo, 'threads');
  const ring = (backend as unknown as { ring: { prepWritev: unknown } }).ring;
  let ringWrites = 0;
  const real = ring.prepWritev as (...args: unknown[]) => void;
  Object.defineProperty(ring, 'prepWritev', { value: (...args: unknown[]) => { ringWrites++; real.apply(ring, args); } });
  await backend.writev(4096, [new Uint8Array(4096).fill(0x5a)]);
  t.equal(ringWrites, 0, 'no write SQE');
  t.ok(readBack(fd, 4096, 4096).every((b) => b === 0x5a), 'the write landed');
  const into = new Uint8Array(4096);
  await backend.readv(4096, [into]);
  t.ok(into.every((b) => b === 0x5a), 'reads still go through the ring and see it');
});

t.test('openFileBackend: a file on a memory file system gets the synchronous backend', async (t) => {
  const shm = '/dev/shm';
  if (!fs.existsSync(shm) || !MEMORY_FS.has(fs.statfsSync(shm).type)) {
    t.pass(`skipped: no tmpfs at ${shm}`);
    return;
  }
  const dir = fs.mkdtempSync(`${shm}/vduse-blk-test-`);
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = `${dir}/disk.img`;
  fs.writeFileSync(file, new Uint8Array(8192).fill(0x3c));
  const fd = fs.openSync(file, 'r+');
  t.teardown(() => fs.closeSync(fd));
  t.equal(onMemoryFileSystem(fd), true);
  const backend = openFileBackend({ kind: 'file', fd, size: 8192, readOnly: false });
  t.type(backend, SyncFileBackend);
  t.equal((backend as SyncFileBackend).bulkIo, reason === null ? 'uring' : 'threads', 'large reads through io_uring where it is available');
  t.teardown(() => backend.close());
  const into = new Uint8Array(4096);
  t.equal(backend.readv(0, [into]), undefined, 'completes inline');
  t.ok(into.every((b) => b === 0x3c));
  if (reason === null) t.type(openFileBackend({ kind: 'file', fd, size: 8192, readOnly: false }, 'uring'), UringFileBackend, 'unless told');
  const { fd: diskFd } = tempDisk(t, 4096);
  t.equal(onMemoryFileSystem(diskFd), MEMORY_FS.has(fs.statfsSync(os.tmpdir()).type), 'the temp dir\'s file system');
  t.equal(onMemoryFileSystem(-1), false, 'a bad fd is not');
});

t.test('openFileBackend falls back to the thread pool where io_uring is refused', { skip: hasAddon ? false : 'no addon' }, async (t) => {
  const { fd } = tempDisk(t, 4096);
  const descriptor = { kind: 'file', fd, size: 4096, readOnly: true } as const;
  const addon = native() as unknown as Record<string, unknown>;
  const real = addon['ioUringCreate'];
  t.teardown(() => { addon['ioUringCreate'] = real; });
  const refuse = (code: string) => () => {
    throw Object.assign(new Error(`io_uring_setup: (${code})`), { code, syscall: 'io_uring_setup' });
  };
  for (const code of ['ENOSYS', 'EPERM', 'EACCES', 'ENOMEM']) {
    addon['ioUringCreate'] = refuse(code);
    const backend = openFileBackend(descriptor);
    t.type(backend, FileBackend, `${code}: threads`);
    t.equal(backend.readOnly, true);
    t.throws(() => openFileBackend(descriptor, 'uring'), { code }, `${code} with VDUSE_BLK_IO=uring: an error`);
  }
  addon['ioUringCreate'] = refuse('EINVAL');
  t.throws(() => openFileBackend(descriptor), { code: 'EINVAL' }, 'other errors are not hidden');
  addon['ioUringCreate'] = undefined;
  t.type(openFileBackend(descriptor), FileBackend, 'an addon built without io_uring: threads');
});
