import t from 'tap';
import { MemoryBackend } from '../../src/workers/backends/memory.js';

t.test('size is the buffer length; writev/readv cross views synchronously', async (t) => {
  const buffer = new SharedArrayBuffer(8192);
  const backend = new MemoryBackend(buffer);
  t.equal(backend.size, 8192);
  const a = new Uint8Array(512).fill(1);
  const b = new Uint8Array(1024).fill(2);
  t.equal(backend.writev(1024, [a, b]), undefined, 'synchronous');
  const disk = new Uint8Array(buffer);
  t.same(disk.subarray(1024, 1536), a);
  t.same(disk.subarray(1536, 2560), b);
  t.equal(disk[1023], 0);
  t.equal(disk[2560], 0);
  const x = new Uint8Array(700);
  const y = new Uint8Array(324);
  t.equal(backend.readv(1024 + 100, [x, y]), undefined);
  t.same([...x.subarray(0, 412)], new Array(412).fill(1));
  t.same([...x.subarray(412)], new Array(288).fill(2));
  t.same([...y], new Array(324).fill(2));
});

t.test('every backend over one buffer sees one disk', async (t) => {
  const buffer = new SharedArrayBuffer(4096);
  const one = new MemoryBackend(buffer);
  const two = new MemoryBackend(buffer);
  one.writev(512, [new Uint8Array(512).fill(9)]);
  const out = new Uint8Array(512);
  two.readv(512, [out]);
  t.same([...out], new Array(512).fill(9));
});

t.test('discard and writeZeroes zero the range; flush and close do nothing', async (t) => {
  const buffer = new SharedArrayBuffer(4096);
  const disk = new Uint8Array(buffer).fill(0xff);
  const backend = new MemoryBackend(buffer);
  backend.discard(0, 512);
  backend.writeZeroes(1024, 1024, false);
  backend.writeZeroes(3584, 512, true);
  const expected = new Uint8Array(4096).fill(0xff);
  expected.fill(0, 0, 512);
  expected.fill(0, 1024, 2048);
  expected.fill(0, 3584);
  t.same(disk, expected);
  t.equal(backend.flush(), undefined);
  t.equal(backend.close(), undefined);
});

t.test('ranges outside the disk throw RangeError and touch nothing', async (t) => {
  const buffer = new SharedArrayBuffer(1024);
  const disk = new Uint8Array(buffer).fill(7);
  const backend = new MemoryBackend(buffer);
  t.throws(() => backend.writev(512, [new Uint8Array(1024)]), RangeError);
  t.throws(() => backend.readv(1024, [new Uint8Array(1)]), RangeError);
  t.throws(() => backend.writeZeroes(-512, 512, false), RangeError);
  t.throws(() => backend.discard(0, 2048), RangeError);
  t.same(disk, new Uint8Array(1024).fill(7));
});
