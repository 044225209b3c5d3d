// IovaMap against real mappings: memfds mapped through a fake device, the
// way VDUSE_IOTLB_GET_FD hands them out. Checks the bytes behind every view
// (cached or not), the permission on every lookup, and that an unmap never
// leaves a stale view behind.
import t from 'tap';
import type { Test } from 'tap';
import { native } from '../../src/shared/native.js';
import { IovaMap } from '../../src/workers/iova-map.js';
import { GuestMemoryError } from '../../src/workers/virtq/guest-memory.js';
import type { DeviceOps, IotlbMapping } from '../../src/workers/device/device-ops.js';
import { VDUSE_ACCESS_RO, VDUSE_ACCESS_RW } from '../../src/shared/vduse.js';

const n = native();
const { PROT_READ, PROT_WRITE, MAP_SHARED } = n.constants;

interface FakeRegion { start: number; last: number; fd: number; perm: number }

/** A device whose IOTLB is `regions` (changeable between lookups), counting lookups. */
function fakeDevice(regions: FakeRegion[]): DeviceOps & { lookups: number } {
  return {
    lookups: 0,
    iotlbGetFd(start: number, last: number): IotlbMapping {
      this.lookups++;
      const r = regions.find((x) => x.start <= last && start <= x.last);
      if (r === undefined) throw Object.assign(new Error('no entry'), { code: 'EINVAL' });
      return { fd: n.dup(r.fd), offset: 0, start: r.start, last: r.last, perm: r.perm };
    },
    injectIrq() {},
  };
}

/** A memfd of `size` bytes where byte i is (i * 7 + seed) & 0xff; returns the fd. */
function patterned(size: number, seed: number): number {
  const fd = n.memfdCreate('iova-map-test', 0);
  n.ftruncate(fd, size);
  const buf = n.mmap(fd, 0, size, PROT_READ | PROT_WRITE, MAP_SHARED);
  const bytes = new Uint8Array(buf);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + seed) & 0xff;
  n.munmap(buf);
  return fd;
}

function expectPattern(t: Test, view: Uint8Array, offset: number, seed: number, what: string): void {
  let bad = -1;
  for (let i = 0; i < view.length && bad < 0; i++) if (view[i] !== (((offset + i) * 7 + seed) & 0xff)) bad = i;
  t.equal(bad, -1, what);
}

const BASE = 0x10_0000;
const SIZE = 1 << 20;

t.test('views, cached or new, always show the requested bytes', async (t) => {
  const fd = patterned(SIZE, 3);
  t.teardown(() => n.close(fd));
  const map = new IovaMap(fakeDevice([{ start: BASE, last: BASE + SIZE - 1, fd, perm: VDUSE_ACCESS_RW }]));
  t.teardown(() => map.clear());
  // Many ranges, each asked for twice: the second answer may come from the
  // cache and must still be exactly the range (colliding slots included).
  let seed = 5;
  const ranges: Array<[number, number]> = [];
  for (let i = 0; i < 20000; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const length = 1 + (seed % 8192);
    const offset = (seed >>> 3) % (SIZE - length);
    ranges.push([offset, length]);
  }
  let wrong = 0;
  for (let pass = 0; pass < 2; pass++) {
    for (const [offset, length] of ranges) {
      const [view, more] = map.translate(BASE + offset, length, true);
      if (more !== undefined || view === undefined || view.length !== length) {
        wrong++;
        continue;
      }
      for (const i of [0, length >> 1, length - 1]) if (view[i] !== (((offset + i) * 7 + 3) & 0xff)) wrong++;
    }
  }
  t.equal(wrong, 0, '40000 lookups, every view the right length and bytes');
  const again = map.translate(BASE + 64, 16, false)[0]!;
  t.equal(map.translate(BASE + 64, 16, false)[0], again, 'a repeated range is served from the cache');
  expectPattern(t, again, 64, 3, 'and shows its bytes');
});

t.test('a cached view does not bypass the permission', async (t) => {
  const fd = patterned(SIZE, 1);
  t.teardown(() => n.close(fd));
  const map = new IovaMap(fakeDevice([{ start: BASE, last: BASE + SIZE - 1, fd, perm: VDUSE_ACCESS_RO }]));
  t.teardown(() => map.clear());
  t.equal(map.translate(BASE + 4096, 512, false)[0]!.length, 512, 'readable');
  t.throws(() => map.translate(BASE + 4096, 512, true), GuestMemoryError, 'the same range is refused for writing');
  t.equal(map.locate(BASE + 4096, 512, true), null, 'locate refuses it too');
});

t.test('after an unmap the same IOVA shows the new mapping, never the old view', async (t) => {
  const first = patterned(SIZE, 10);
  const second = patterned(SIZE, 20);
  t.teardown(() => {
    n.close(first);
    n.close(second);
  });
  const regions = [{ start: BASE, last: BASE + SIZE - 1, fd: first, perm: VDUSE_ACCESS_RW }];
  const device = fakeDevice(regions);
  const map = new IovaMap(device);
  t.teardown(() => map.clear());
  map.translate(BASE, 1, true); // maps the region: later lookups take the cached path
  const old = map.translate(BASE + 8192, 4096, true)[0]!;
  t.equal(map.translate(BASE + 8192, 4096, true)[0], old, 'cached');
  expectPattern(t, old, 8192, 10, 'the first mapping');
  // UPDATE_IOTLB: the kernel replaced the region.
  regions[0] = { ...regions[0]!, fd: second };
  t.equal(map.invalidate(BigInt(BASE), BigInt(BASE + 10)), 1, 'one region unmapped');
  t.equal(old.length, 0, 'the old view is detached (munmap), not readable');
  map.translate(BASE + 8192, 4096, true); // maps the region anew; the next lookup takes the cached path
  const fresh = map.translate(BASE + 8192, 4096, true)[0]!;
  t.not(fresh, old, 'a new view');
  t.equal(fresh.length, 4096, 'of the whole range');
  expectPattern(t, fresh, 8192, 20, 'of the new mapping');
  t.equal(device.lookups, 2, 'looked up again after the unmap');
});

t.test('locate: the one mapping holding a range, or null', async (t) => {
  const fd = patterned(2 * SIZE, 0);
  t.teardown(() => n.close(fd));
  const map = new IovaMap(fakeDevice([
    { start: BASE, last: BASE + SIZE - 1, fd, perm: VDUSE_ACCESS_RW },
    { start: BASE + SIZE, last: BASE + 2 * SIZE - 1, fd, perm: VDUSE_ACCESS_RW },
  ]));
  t.teardown(() => map.clear());
  t.equal(map.locate(BASE + 100, 16, false), null, 'nothing mapped yet: null (translate maps it)');
  map.translate(BASE, 1, false);
  const found = map.locate(BASE + 100, 16, false);
  t.ok(found !== null, 'inside the mapped region');
  const bytes = new Uint8Array(found!.buffer, found!.byteOffset + (BASE + 100 - found!.start), 16);
  expectPattern(t, bytes, 100, 0, 'start and byteOffset place the range');
  t.equal(map.locate(BASE + SIZE - 8, 16, false), null, 'a range crossing into the next region: null');
  t.equal(map.locate(BASE + 100, 0, false), null, 'an empty range: null');
  t.equal(map.locate(BASE - 16, 16, false), null, 'before every region: null');
});
