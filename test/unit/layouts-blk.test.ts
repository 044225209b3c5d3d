// Byte-exact tests of virtio_blk_config and the request header / segment.
// Expected bytes are hand-written from reference/vduse-and-virtio-blk.md §3.2, §3.3.
import t from 'tap';
import {
  VIRTIO_BLK_CONFIG_SIZE,
  decodeBlkConfig,
  decodeBlkDiscardSegment,
  decodeBlkDiscardSegments,
  decodeBlkOutHdr,
  encodeBlkConfig,
  encodeBlkDiscardSegment,
  encodeBlkOutHdr,
  type VirtioBlkConfig,
} from '../../src/shared/layouts/index.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const config: VirtioBlkConfig = {
  capacity: 2097152n, // 1 GiB
  sizeMax: 0x10000,
  segMax: 126,
  blkSize: 4096,
  physicalBlockExp: 3,
  alignmentOffset: 1,
  minIoSize: 1,
  optIoSize: 0x80,
  numQueues: 4,
  maxDiscardSectors: 0x3fffff,
  maxDiscardSeg: 1,
  discardSectorAlignment: 8,
  maxWriteZeroesSectors: 0x3ffffe,
  maxWriteZeroesSeg: 2,
  writeZeroesMayUnmap: 1,
};

const configFixture = hex(
  '0000200000000000' + // 0  capacity
    '00000100 7e000000' + // 8  size_max, 12 seg_max
    '0000 00 00' + // 16 geometry
    '00100000' + // 20 blk_size
    '03 01 0100 80000000' + // 24 physical_block_exp, alignment_offset, min_io_size, 28 opt_io_size
    '00 00 0400' + // 32 wce, unused0, 34 num_queues
    'ffff3f00 01000000 08000000' + // 36 max_discard_sectors, 40 max_discard_seg, 44 discard_sector_alignment
    'feff3f00 02000000' + // 48 max_write_zeroes_sectors, 52 max_write_zeroes_seg
    '01 000000' + // 56 write_zeroes_may_unmap, unused1
    '00000000 00000000 00000000', // 60..71 secure erase
);

t.test('virtio_blk_config: the full 72 bytes at the spec offsets', async (t) => {
  t.equal(VIRTIO_BLK_CONFIG_SIZE, 72);
  t.equal(configFixture.byteLength, 72);
  t.equal(toHex(encodeBlkConfig(config)), toHex(configFixture));
  t.same(decodeBlkConfig(configFixture), {
    ...config,
    geometry: { cylinders: 0, heads: 0, sectors: 0 },
    writeback: 0,
    maxSecureEraseSectors: 0,
    maxSecureEraseSeg: 0,
    secureEraseSectorAlignment: 0,
  });
});

t.test('virtio_blk_config: optional fields round-trip', async (t) => {
  const full: Required<VirtioBlkConfig> = {
    ...config,
    capacity: (1n << 64n) - 1n,
    geometry: { cylinders: 0x1234, heads: 16, sectors: 63 },
    writeback: 1,
    maxSecureEraseSectors: 7,
    maxSecureEraseSeg: 8,
    secureEraseSectorAlignment: 9,
  };
  const bytes = encodeBlkConfig(full);
  t.equal(toHex(bytes.subarray(16, 20)), '3412103f');
  t.equal(bytes[32], 1);
  t.equal(toHex(bytes.subarray(60, 72)), '070000000800000009000000');
  t.same(decodeBlkConfig(bytes), full);
});

t.test('virtio_blk_config: rejects', async (t) => {
  t.throws(() => encodeBlkConfig({ ...config, numQueues: 65536 }), /num_queues/);
  t.throws(() => encodeBlkConfig({ ...config, physicalBlockExp: 256 }), /physical_block_exp/);
  t.throws(() => encodeBlkConfig({ ...config, capacity: -1n }), /capacity/);
  t.throws(() => encodeBlkConfig({ ...config, segMax: 1.5 }), /seg_max/);
  t.throws(() => decodeBlkConfig(new Uint8Array(60)), /72/);
});

t.test('virtio_blk_outhdr: type, ioprio, sector', async (t) => {
  const fixture = hex('01000000 00000000 9a78563412000000');
  const hdr = { type: 1, ioprio: 0, sector: 0x123456789an };
  t.equal(toHex(encodeBlkOutHdr(hdr)), toHex(fixture));
  t.same(decodeBlkOutHdr(fixture), hdr);
  t.same(decodeBlkOutHdr(hex('0b000000 05000000 ffffffffffffffff')), {
    type: 11,
    ioprio: 5,
    sector: 0xffffffffffffffffn,
  });
  t.throws(() => decodeBlkOutHdr(new Uint8Array(15)), /16/);
  t.throws(() => encodeBlkOutHdr({ type: 0, ioprio: 0, sector: 1n << 64n }), /sector/);
});

t.test('discard / write-zeroes segments', async (t) => {
  const seg = { sector: 0x10n, numSectors: 8, flags: 1 };
  const fixture = hex('1000000000000000 08000000 01000000');
  t.equal(toHex(encodeBlkDiscardSegment(seg)), toHex(fixture));
  t.same(decodeBlkDiscardSegment(fixture), seg);
  const two = new Uint8Array(32);
  two.set(fixture, 0);
  two.set(hex('0020000000000000 00010000 00000000'), 16);
  t.same(decodeBlkDiscardSegments(two), [seg, { sector: 0x2000n, numSectors: 256, flags: 0 }]);
  t.same(decodeBlkDiscardSegments(new Uint8Array(0)), []);
  t.throws(() => decodeBlkDiscardSegments(new Uint8Array(17)), /multiple of 16/);
  t.throws(() => decodeBlkDiscardSegment(new Uint8Array(32)), /16/);
});
