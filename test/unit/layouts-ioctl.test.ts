// Byte-exact tests of the per-queue and IOVA ioctl arguments. Expected bytes
// are hand-written from reference/vduse-and-virtio-blk.md §1.3.
import t from 'tap';
import {
  VDUSE_IOTLB_ENTRY_SIZE,
  VDUSE_VQ_CONFIG_SIZE,
  VDUSE_VQ_INFO_SIZE,
  decodeConfigData,
  decodeIotlbEntry,
  decodeIovaInfo,
  decodeIovaUmem,
  decodeU64Arg,
  decodeVqConfig,
  decodeVqEventfd,
  decodeVqIndex,
  decodeVqInfo,
  encodeConfigData,
  encodeIotlbEntry,
  encodeIovaInfo,
  encodeIovaUmem,
  encodeU64Arg,
  encodeVqConfig,
  encodeVqEventfd,
  encodeVqIndex,
  encodeVqInfo,
  encodeVqInfoRequest,
} from '../../src/shared/layouts/index.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

t.test('vduse_vq_config: index, max_size, reserved zero', async (t) => {
  const bytes = encodeVqConfig({ index: 2, maxSize: 256 });
  t.equal(VDUSE_VQ_CONFIG_SIZE, 32);
  t.equal(toHex(bytes), toHex(hex('02000000 0001' + '00'.repeat(26))));
  t.same(decodeVqConfig(bytes), { index: 2, maxSize: 256, reservedIsZero: true });
  const dirty = bytes.slice();
  dirty[8] = 1; // API v1 `group`
  t.equal(decodeVqConfig(dirty).reservedIsZero, false);
  t.throws(() => encodeVqConfig({ index: 0, maxSize: 65536 }), /max_size/);
  t.throws(() => decodeVqConfig(new Uint8Array(31)), /32/);
});

// What VDUSE_VQ_GET_INFO returns for a ready split queue of 256 entries.
const vqInfoFixture = hex(
  '01000000 00010000' + // index 1, num 256
    '0000ff0700000000' + // desc_addr 0x7ff0000
    '0010ff0700000000' + // driver_addr 0x7ff1000
    '0020ff0700000000' + // device_addr 0x7ff2000
    '0500 0000 0000 0000' + // split.avail_index 5
    '01 00000000000000', // ready, padding
);

t.test('vduse_vq_info: decode the kernel output, encode it back', async (t) => {
  t.equal(VDUSE_VQ_INFO_SIZE, 48);
  t.equal(vqInfoFixture.byteLength, 48);
  const info = decodeVqInfo(vqInfoFixture);
  t.same(info, {
    index: 1,
    num: 256,
    descAddr: 0x7ff0000n,
    driverAddr: 0x7ff1000n,
    deviceAddr: 0x7ff2000n,
    availIndex: 5,
    packed: { lastAvailCounter: 5, lastAvailIdx: 0, lastUsedCounter: 0, lastUsedIdx: 0 },
    ready: true,
  });
  const { packed: _packed, ...split } = info;
  t.equal(toHex(encodeVqInfo(split)), toHex(vqInfoFixture));
  t.equal(toHex(encodeVqInfoRequest(1)), toHex(hex('01000000' + '00'.repeat(44))));
});

t.test('vduse_vq_info: packed state occupies 32..39', async (t) => {
  const packed = { lastAvailCounter: 1, lastAvailIdx: 0x7fff, lastUsedCounter: 1, lastUsedIdx: 2 };
  const bytes = encodeVqInfo({ index: 0, packed });
  t.equal(toHex(bytes.subarray(32, 41)), '0100ff7f0100020000');
  t.same(decodeVqInfo(bytes).packed, packed);
  t.equal(decodeVqInfo(bytes).ready, false);
  t.throws(() => decodeVqInfo(new Uint8Array(47)), /48/);
});

t.test('vduse_vq_eventfd and the INJECT_IRQ index', async (t) => {
  t.equal(toHex(encodeVqEventfd({ index: 1, fd: 17 })), '0100000011000000');
  t.equal(toHex(encodeVqEventfd({ index: 1, fd: -1 })), '01000000ffffffff', 'VDUSE_EVENTFD_DEASSIGN');
  t.same(decodeVqEventfd(hex('01000000ffffffff')), { index: 1, fd: -1 });
  t.throws(() => encodeVqEventfd({ index: 0, fd: 2 ** 31 }), /fd/);
  t.throws(() => decodeVqEventfd(new Uint8Array(4)), /8/);
  t.equal(toHex(encodeVqIndex(3)), '03000000');
  t.equal(decodeVqIndex(hex('03000000')), 3);
});

t.test('vduse_iotlb_entry: in start/last, out offset/perm', async (t) => {
  const request = encodeIotlbEntry({ start: 0x4000000n, last: 0x4000fffn });
  t.equal(VDUSE_IOTLB_ENTRY_SIZE, 32);
  t.equal(toHex(request), toHex(hex('0000000000000000 0000000400000000 ff0f000400000000' + '00'.repeat(8))));
  // Kernel output: offset == start for a coherent region, perm RW; padding bytes are ignored.
  const reply = hex('0000000400000000 0000000400000000 ff0f000400000000 03 aabbccddeeff00');
  t.same(decodeIotlbEntry(reply), { offset: 0x4000000n, start: 0x4000000n, last: 0x4000fffn, perm: 3 });
  const full = { offset: 1n << 40n, start: 0n, last: (1n << 64n) - 1n, perm: 1 };
  t.same(decodeIotlbEntry(encodeIotlbEntry(full)), full);
  t.throws(() => encodeIotlbEntry({ start: -1n, last: 0n }), /start/);
  t.throws(() => decodeIotlbEntry(new Uint8Array(33)), /32/);
});

t.test('vduse_iova_info and vduse_iova_umem', async (t) => {
  const info = encodeIovaInfo({ start: 0n, last: 0x3ffffffn, capability: 1n });
  t.equal(toHex(info), toHex(hex('0000000000000000 ffffff0300000000 0100000000000000' + '00'.repeat(24))));
  t.same(decodeIovaInfo(info), { start: 0n, last: 0x3ffffffn, capability: 1n });
  const umem = { uaddr: 0x7f0000000000n, iova: 0n, size: 64n << 20n };
  const bytes = encodeIovaUmem(umem);
  t.equal(toHex(bytes.subarray(0, 24)), '00000000007f0000' + '0000000000000000' + '0000000400000000');
  t.same(decodeIovaUmem(bytes), { ...umem, reservedIsZero: true });
  t.throws(() => decodeIovaUmem(new Uint8Array(32)), /48/);
});

t.test('vduse_config_data: header then buffer', async (t) => {
  const bytes = encodeConfigData({ offset: 0, data: hex('0000200000000000') });
  t.equal(toHex(bytes), '00000000' + '08000000' + '0000200000000000');
  const back = decodeConfigData(bytes);
  t.equal(back.offset, 0);
  t.equal(toHex(back.data), '0000200000000000');
  t.throws(() => decodeConfigData(bytes.subarray(0, 12)), /at least 16/);
  t.throws(() => decodeConfigData(new Uint8Array(7)), /at least 8/);
});

t.test('u64 ioctl argument', async (t) => {
  t.equal(toHex(encodeU64Arg(0x300000244n)), '4402000003000000');
  t.equal(decodeU64Arg(hex('4402000003000000')), 0x300000244n);
  t.throws(() => decodeU64Arg(new Uint8Array(4)), /8/);
});
