/** FileBackend against real temporary files (the fallocate tests need build/Release/vduse_native.node). */
import t from 'tap';
import * as fs from 'node:fs';
import { FileBackend, type FallocateMode } from '../../src/workers/backends/file.js';
import { hasAddon, tempDisk, readBack, vectoredRoundTrip } from '../helpers/temp-disk.js';

const needsAddon = hasAddon ? {} : { skip: 'build/Release/vduse_native.node is not built' };
const MiB = 1 << 20;



const isZero = (bytes: Uint8Array) => bytes.every((b) => b === 0);

t.test('writev then readv across several views, at an offset', async (t) => {
  const { fd } = tempDisk(t, MiB);
  const backend = new FileBackend(fd, MiB);
  await vectoredRoundTrip(t, backend, fd);
});

t.test('views straight into a SharedArrayBuffer (as guest memory is)', async (t) => {
  const { fd } = tempDisk(t, 64 * 1024);
  const backend = new FileBackend(fd, 64 * 1024);
  const guest = new Uint8Array(new SharedArrayBuffer(8192));
  await backend.readv(0, [guest.subarray(100, 612), guest.subarray(2000, 2512)]);
  t.ok(guest.subarray(100, 612).every((b) => b === 0xab));
  t.equal(guest[99], 0);
  guest.fill(0x5c, 4096);
  await backend.writev(4096, [guest.subarray(4096)]);
  t.ok(readBack(fd, 4096, 4096).every((b) => b === 0x5c));
});

t.test('more views than IOV_MAX: short transfers continue through the views', async (t) => {
  const { fd } = tempDisk(t, 2 * MiB);
  const backend = new FileBackend(fd, 2 * MiB);
  const views = Array.from({ length: 2500 }, (_, i) => new Uint8Array(512).fill(i & 0xff));
  await backend.writev(0, views);
  const disk = readBack(fd, 0, 2500 * 512);
  t.ok(views.every((v, i) => disk[i * 512] === (i & 0xff) && disk[i * 512 + 511] === (i & 0xff)));
  const into = Array.from({ length: 2500 }, () => new Uint8Array(512));
  await backend.readv(0, into);
  t.ok(into.every((v, i) => v.every((b) => b === (i & 0xff))));
});

t.test('a read past the end of a short file zero-fills the rest', async (t) => {
  const { fd } = tempDisk(t, 1024);
  const backend = new FileBackend(fd, 4096); // the device claims more than the file holds
  const a = new Uint8Array(768).fill(0xee);
  const b = new Uint8Array(1024).fill(0xee);
  await backend.readv(512, [a, b]);
  t.ok(a.subarray(0, 512).every((x) => x === 0xab));
  t.ok(isZero(a.subarray(512)) && isZero(b));
});

t.test('concurrent requests in flight at once', async (t) => {
  const { fd } = tempDisk(t, 4 * MiB);
  const backend = new FileBackend(fd, 4 * MiB);
  const writes = Array.from({ length: 32 }, (_, i) => backend.writev(i * 65536, [new Uint8Array(65536).fill(i + 1)]));
  t.ok(writes.every((w) => w instanceof Promise), 'every write is pending at once');
  await Promise.all(writes);
  const reads = Array.from({ length: 32 }, () => new Uint8Array(65536));
  await Promise.all(reads.map((r, i) => backend.readv(i * 65536, [r])));
  t.ok(reads.every((r, i) => r.every((b) => b === i + 1)));
  await backend.flush();
});

t.test('flush is fdatasync; errors reject', async (t) => {
  const { fd } = tempDisk(t, 4096);
  const backend = new FileBackend(fd, 4096);
  t.equal(await backend.flush(), undefined);
  const closed = new FileBackend(fs.openSync('/dev/null', 'r'), 4096);
  fs.closeSync(closed.fd);
  await t.rejects(closed.flush(), { code: 'EBADF' });
});

t.test('range checks, read-only, close leaves the fd open', async (t) => {
  const { fd } = tempDisk(t, 4096);
  const ro = new FileBackend(fd, 4096, { readOnly: true, writethrough: true });
  t.equal(ro.writethrough, true);
  t.throws(() => ro.writev(0, [new Uint8Array(512)]), { code: 'EROFS' });
  t.throws(() => ro.discard(0, 512), { code: 'EROFS' });
  t.throws(() => ro.writeZeroes(0, 512, false), { code: 'EROFS' });
  t.throws(() => ro.readv(4096, [new Uint8Array(512)]), RangeError);
  ro.close();
  t.ok(fs.fstatSync(fd).isFile(), 'the fd is still open');
  t.ok(readBack(fd, 0, 4096).every((b) => b === 0xab));
});

t.test('discard punches a hole: fewer blocks, zeroes', needsAddon, async (t) => {
  const { fd } = tempDisk(t, 4 * MiB);
  fs.fsyncSync(fd);
  const backend = new FileBackend(fd, 4 * MiB);
  const before = fs.fstatSync(fd).blocks;
  t.equal(backend.discard(MiB, 2 * MiB), undefined, 'synchronous when fallocate works');
  const after = fs.fstatSync(fd).blocks;
  t.ok(before - after >= (2 * MiB) / 512 - 16, `blocks ${before} → ${after}`);
  t.ok(isZero(readBack(fd, MiB, 2 * MiB)));
  t.equal(readBack(fd, MiB - 1, 1)[0], 0xab);
  t.equal(readBack(fd, 3 * MiB, 1)[0], 0xab);
  t.equal(fs.fstatSync(fd).size, 4 * MiB, 'KEEP_SIZE');
});

t.test('writeZeroes with and without unmap reads back zeroes', needsAddon, async (t) => {
  const { fd } = tempDisk(t, 4 * MiB);
  fs.fsyncSync(fd);
  const backend = new FileBackend(fd, 4 * MiB);
  const before = fs.fstatSync(fd).blocks;
  await backend.writeZeroes(0, MiB, false);
  t.ok(isZero(readBack(fd, 0, MiB)), 'zero range');
  t.ok(fs.fstatSync(fd).blocks >= before - 16, 'without unmap the blocks stay allocated (ext4, xfs)');
  await backend.writeZeroes(2 * MiB, MiB, true);
  t.ok(isZero(readBack(fd, 2 * MiB, MiB)), 'unmap');
  t.ok(fs.fstatSync(fd).blocks < before - MiB / 512 + 16, 'with unmap they are freed');
  t.equal(readBack(fd, MiB, 1)[0], 0xab);
  t.equal(fs.fstatSync(fd).size, 4 * MiB);
});

/** A fallocate that fails with `codes[mode]` (or simulates success by writing zeroes), recording its calls. */
function fakeFallocate(codes: Partial<Record<FallocateMode, string>>) {
  const calls: FallocateMode[] = [];
  const fallocate = (fd: number, mode: FallocateMode, offset: number, length: number) => {
    calls.push(mode);
    const code = codes[mode];
    if (code !== undefined) throw Object.assign(new Error(code), { code });
    fs.writeSync(fd, new Uint8Array(length), 0, length, offset);
  };
  return { calls, fallocate };
}

t.test('fallback: ZERO_RANGE unsupported → PUNCH_HOLE, remembered', async (t) => {
  const { fd } = tempDisk(t, MiB);
  const fake = fakeFallocate({ 'zero-range': 'EOPNOTSUPP' });
  const backend = new FileBackend(fd, MiB, { fallocate: fake.fallocate });
  t.equal(backend.writeZeroes(0, 4096, false), undefined);
  t.same(fake.calls, ['zero-range', 'punch-hole']);
  backend.writeZeroes(8192, 4096, false);
  t.same(fake.calls, ['zero-range', 'punch-hole', 'punch-hole'], 'zero-range is not tried again');
  t.ok(isZero(readBack(fd, 0, 4096)) && isZero(readBack(fd, 8192, 4096)));
});

t.test('fallback: no fallocate at all → zero writes in chunks; discard → EOPNOTSUPP', async (t) => {
  const { fd } = tempDisk(t, 4 * MiB);
  const fake = fakeFallocate({ 'zero-range': 'EINVAL', 'punch-hole': 'ENOTSUP' });
  const backend = new FileBackend(fd, 4 * MiB, { fallocate: fake.fallocate });
  const pending = backend.writeZeroes(512, 3 * MiB + 512, true);
  t.type(pending, Promise);
  await pending;
  t.same(fake.calls, ['punch-hole', 'zero-range']);
  t.ok(isZero(readBack(fd, 512, 3 * MiB + 512)), 'zeroes over several 1 MiB chunks');
  t.equal(readBack(fd, 511, 1)[0], 0xab);
  t.equal(readBack(fd, 3 * MiB + 1024, 1)[0], 0xab);
  await backend.writeZeroes(0, 512, false);
  t.equal(fake.calls.length, 2, 'no more fallocate attempts');
  t.ok(isZero(readBack(fd, 0, 512)));
  t.throws(() => backend.discard(0, 512), { code: 'EOPNOTSUPP' });
});

t.test('other fallocate errors propagate and are not remembered', async (t) => {
  const { fd } = tempDisk(t, MiB);
  const fake = fakeFallocate({ 'punch-hole': 'EIO' });
  const backend = new FileBackend(fd, MiB, { fallocate: fake.fallocate });
  t.throws(() => backend.discard(0, 512), { code: 'EIO' });
  t.throws(() => backend.discard(0, 512), { code: 'EIO' });
  t.same(fake.calls, ['punch-hole', 'punch-hole']);
});
