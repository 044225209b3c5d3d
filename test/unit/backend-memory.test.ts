import { readFileSync } from 'node:fs';
import t from 'tap';
import { MemoryBackend } from '../../src/workers/backends/memory.js';
import { createMemoryDisk } from '../../src/control/memory-disk.js';
import { openBackend } from '../../src/workers/backends/index.js';

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

t.test('memfd disk: every queue\'s mapping and the owner\'s view are one disk; close unmaps only the backend', async (t) => {
  const ram = createMemoryDisk(8192);
  t.teardown(() => ram.close());
  t.same(ram.descriptor, { kind: 'memfd', fd: ram.fd, size: 8192 });
  const one = await openBackend(ram.descriptor, { queueIndex: 0 });
  const two = await openBackend(ram.descriptor, { queueIndex: 1 });
  t.equal(one.size, 8192);
  t.equal(one.writev(4096, [new Uint8Array(512).fill(5), new Uint8Array(512).fill(6)]), undefined, 'synchronous');
  t.same([...ram.bytes.subarray(4096, 4098)], [5, 5], 'the owner sees the write');
  t.same([...ram.bytes.subarray(4608, 4610)], [6, 6]);
  ram.bytes[0] = 0xaa;
  const out = new Uint8Array(1024);
  two.readv(4096 - 512, [out]);
  t.same([...out.subarray(0, 512)], new Array(512).fill(0), 'fresh disk reads zeroes');
  t.same([...out.subarray(512)], new Array(512).fill(5), 'another queue sees the write');
  const first = new Uint8Array(1);
  two.readv(0, [first]);
  t.equal(first[0], 0xaa, 'a queue sees the owner\'s write');
  one.close();
  two.readv(4096, [out]);
  t.equal(out[0], 5, 'the other mapping stays valid after one backend closes');
  t.throws(() => two.readv(8192 - 512, [new Uint8Array(1024)]), RangeError, 'past the end');
  two.close();
});

t.test('createMemoryDisk refuses sizes that are not positive multiples of 512', async (t) => {
  for (const size of [0, -512, 1000, 1.5, Number.NaN]) t.throws(() => createMemoryDisk(size), RangeError, String(size));
});

t.test('a memfd descriptor larger than its file is refused before anything is mapped (no SIGBUS later)', async (t) => {
  const ram = createMemoryDisk(4096);
  t.teardown(() => ram.close());
  await t.rejects(openBackend({ kind: 'memfd', fd: ram.fd, size: 8192 }, { queueIndex: 0 }),
    { name: 'RangeError', message: /8192 bytes does not fit its fd .* \(4096 bytes\)/ });
  await t.rejects(openBackend({ kind: 'memfd', fd: ram.fd, size: 0 }, { queueIndex: 0 }), RangeError);
  const ok = await openBackend({ kind: 'memfd', fd: ram.fd, size: 4096 }, { queueIndex: 0 });
  t.equal(ok.size, 4096);
  await ok.close();
});

/** The process's PMD-mapped (2 MiB) shmem pages, in kB (smaps_rollup). */
function shmemPmdMappedKb(): number {
  const m = /^ShmemPmdMapped:\s+(\d+) kB/m.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'));
  return m === null ? 0 : Number(m[1]);
}

// Only where the host's shmem THP setting is `advise` does the outcome say
// whether we asked: `never` gives 4 KiB pages and `always` huge ones either way.
const shmemThp = (() => {
  try {
    return /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/shmem_enabled', 'utf8'))?.[1];
  } catch {
    return undefined;
  }
})();

t.test('memfd disk pages are 2 MiB where the host leaves it to the mapping (shmem THP "advise")',
  { skip: shmemThp === 'advise' ? false : `shmem THP is ${shmemThp ?? 'absent'} here, not advise` }, async (t) => {
    const size = 16 << 20;
    const before = shmemPmdMappedKb();
    const disk = createMemoryDisk(size);
    t.teardown(() => disk.close());
    disk.bytes.fill(1); // the owner's mapping allocates the pages
    const owner = shmemPmdMappedKb() - before;
    t.ok(owner >= 2048, `the owner's mapping holds huge pages (${owner} kB PMD-mapped)`);
    const queue = MemoryBackend.mapFd(disk.fd, size);
    t.teardown(() => queue.close());
    const out = new Uint8Array(size);
    queue.readv(0, [out]); // a queue's mapping faults them in as it reads
    t.ok(shmemPmdMappedKb() - before >= owner + 2048, 'and so does a queue worker\'s');
    t.equal(out[size - 1], 1);
  });
