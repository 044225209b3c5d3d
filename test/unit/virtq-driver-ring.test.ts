// The mock driver itself: Linux ring layout, byte-exact descriptors and
// avail entries, free list, used-ring checks.
import t from 'tap';
import { DriverRing } from '../../src/loopback/driver-ring.js';
import { vringLayout, vringSize } from '../../src/loopback/vring-layout.js';
import { VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE } from '../../src/shared/virtio.js';
import { BASE, makePair } from '../helpers/virtq-fixture.js';

/** The 16 bytes of a descriptor: le64 addr, le32 len, le16 flags, le16 next. */
function descBytes(addr: number, len: number, flags: number, next: number): number[] {
  const b = new DataView(new ArrayBuffer(16));
  b.setBigUint64(0, BigInt(addr), true);
  b.setUint32(8, len, true);
  b.setUint16(12, flags, true);
  b.setUint16(14, next, true);
  return [...new Uint8Array(b.buffer)];
}

t.test('Linux vring layout (vring_init / vring_size)', async (t) => {
  t.same(vringLayout(0x1000, 128), { size: 128, descAddr: 0x1000, driverAddr: 0x1800, deviceAddr: 0x2000 });
  t.equal(vringSize(128), 5126);
  t.equal(vringLayout(0, 256).deviceAddr, 8192);
  t.equal(vringSize(256), 10246);
  t.equal(vringLayout(0, 16, 4).deviceAddr, 256 + 40);
});

t.test('addChain writes descriptors and the avail ring byte for byte', async (t) => {
  const pair = makePair({ size: 4 });
  const { driver, layout } = pair;
  const at = (iova: number, n: number) => [...pair.bytesAt(iova, n)];
  const head = driver.addChain([
    { iova: 0x20_0000, len: 16, write: false },
    { iova: 0x20_1000, len: 512, write: true },
  ]);
  t.equal(head, 0);
  t.same(at(layout.descAddr, 32), [
    ...descBytes(0x20_0000, 16, VRING_DESC_F_NEXT, 1),
    ...descBytes(0x20_1000, 512, VRING_DESC_F_WRITE, 0),
  ]);
  t.same(at(layout.driverAddr, 6), [0, 0, 0, 0, 0, 0], 'avail.idx not yet published');
  t.equal(driver.publishAvail(), 1);
  t.same(at(layout.driverAddr, 6), [0, 0, 1, 0, 0, 0], 'flags 0, idx 1, ring[0] = head 0');
  const second = driver.addChain([{ iova: 0x20_2000, len: 8, write: true }]);
  driver.publishAvail();
  t.equal(second, 2);
  t.same(at(layout.driverAddr + 4, 4), [0, 0, 2, 0]);
});

t.test('indirect table bytes, with a direct prefix', async (t) => {
  const pair = makePair({ size: 4 });
  const table = 0x1c_0000;
  const head = pair.driver.addChain(
    [
      { iova: 0x30_0000, len: 16, write: false },
      { iova: 0x30_1000, len: 4096, write: true },
      { iova: 0x30_2000, len: 1, write: true },
    ],
    { indirect: { tableIova: table, direct: 1 } },
  );
  t.same([...pair.bytesAt(pair.layout.descAddr, 32)], [
    ...descBytes(0x30_0000, 16, VRING_DESC_F_NEXT, 1),
    ...descBytes(table, 32, VRING_DESC_F_INDIRECT, 0),
  ]);
  t.same([...pair.bytesAt(table, 32)], [
    ...descBytes(0x30_1000, 4096, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1),
    ...descBytes(0x30_2000, 1, VRING_DESC_F_WRITE, 0),
  ]);
  t.equal(head, 0);
  t.throws(() => pair.driver.addChain([{ iova: 0, len: 1, write: false }], { indirect: { tableIova: table, direct: 1 } }), RangeError);
  const outside = { indirect: { tableIova: 0x20_0000 } };
  t.throws(() => pair.driver.addChain([{ iova: 0, len: 1, write: false }], outside), /outside driver memory/);
  t.equal(pair.driver.numFree, 2, 'a failed add takes no descriptors');
});

t.test('free list: ring full, freed by getUsed, unknown ids refused', async (t) => {
  const pair = makePair({ size: 4 });
  const { driver, queue } = pair;
  const seg = { iova: pair.alloc(8), len: 8, write: true };
  driver.addChain([seg, seg, seg]);
  t.throws(() => driver.addChain([seg, seg]), /ring full: 2 descriptors needed, 1 free/);
  driver.addChain([seg]);
  t.equal(driver.numFree, 0);
  driver.publishAvail();
  const chain = queue.popChain();
  queue.addUsed(chain?.head ?? -1, 0);
  queue.publishUsed();
  t.same(driver.getUsed(), [{ id: 0, len: 0 }]);
  t.equal(driver.numFree, 3);
  queue.addUsed(0, 0); // a head the driver no longer has in flight
  queue.publishUsed();
  t.throws(() => driver.getUsed(), /device returned id 0, which is not in flight/);
});

t.test('initial index and ring zeroing', async (t) => {
  const bytes = new Uint8Array(0x3000).fill(0xee);
  const layout = vringLayout(BASE, 8);
  const driver = new DriverRing({ bytes, base: BASE }, layout, { eventIdx: true, initialIdx: 0xfff0 });
  t.equal(driver.usedIdx(), 0xfff0);
  t.equal(driver.availEvent(), 0xfff0);
  t.equal(driver.usedEvent(), 0xfff0);
  t.equal(driver.usedFlags(), 0);
  t.equal(bytes[layout.descAddr - BASE + 5], 0, 'descriptor table zeroed');
  t.equal(bytes[0x3000 - 1], 0xee, 'nothing written past the rings');
  t.throws(() => new DriverRing({ bytes, base: BASE }, { ...layout, size: 6 }), RangeError);
  t.throws(() => driver.writeDescriptorAt(BASE + 0x3000, { addr: 0, len: 0, flags: 0, next: 0 }), /outside driver memory/);
});
