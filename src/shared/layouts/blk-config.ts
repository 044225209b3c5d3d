/**
 * struct virtio_blk_config (VIRTIO 1.2 §5.2.4; reference §3.2), the device
 * config space handed to VDUSE_CREATE_DEV. Always the full 72-byte (Linux
 * 6.1) struct up to the secure-erase fields: 5.15.0 does not zero-fill reads
 * past config_size, and the kernel never looks at feature bits when copying
 * config, so every field is written (zero when its feature is off).
 */
import { requireLength, u64, uint, viewOf } from './bytes.js';

export const VIRTIO_BLK_CONFIG_SIZE = 72;

/** Field offsets, named as in include/uapi/linux/virtio_blk.h. */
export const VIRTIO_BLK_CONFIG_OFFSETS = {
  capacity: 0,
  size_max: 8,
  seg_max: 12,
  geometry_cylinders: 16,
  geometry_heads: 18,
  geometry_sectors: 19,
  blk_size: 20,
  physical_block_exp: 24,
  alignment_offset: 25,
  min_io_size: 26,
  opt_io_size: 28,
  wce: 32,
  unused: 33,
  num_queues: 34,
  max_discard_sectors: 36,
  max_discard_seg: 40,
  discard_sector_alignment: 44,
  max_write_zeroes_sectors: 48,
  max_write_zeroes_seg: 52,
  write_zeroes_may_unmap: 56,
  unused1: 57,
  max_secure_erase_sectors: 60,
  max_secure_erase_seg: 64,
  secure_erase_sector_alignment: 68,
} as const;

const O = VIRTIO_BLK_CONFIG_OFFSETS;

export interface VirtioBlkConfig {
  /** Size in 512-byte sectors, whatever blkSize says. */
  capacity: bigint;
  sizeMax: number;
  segMax: number;
  blkSize: number;
  physicalBlockExp: number;
  alignmentOffset: number;
  minIoSize: number;
  optIoSize: number;
  numQueues: number;
  maxDiscardSectors: number;
  maxDiscardSeg: number;
  discardSectorAlignment: number;
  maxWriteZeroesSectors: number;
  maxWriteZeroesSeg: number;
  writeZeroesMayUnmap: number;
  /** VIRTIO_BLK_F_GEOMETRY (legacy CHS); zero when absent. */
  geometry?: { cylinders: number; heads: number; sectors: number };
  /** `writeback` (Linux: wce); only meaningful with CONFIG_WCE, which VDUSE forbids. */
  writeback?: number;
  maxSecureEraseSectors?: number;
  maxSecureEraseSeg?: number;
  secureEraseSectorAlignment?: number;
}

export function encodeBlkConfig(c: VirtioBlkConfig): Uint8Array {
  const out = new Uint8Array(VIRTIO_BLK_CONFIG_SIZE);
  const v = viewOf(out);
  const f = (name: string): string => `virtio_blk_config.${name}`;
  v.setBigUint64(O.capacity, u64(c.capacity, f('capacity')), true);
  v.setUint32(O.size_max, uint(c.sizeMax, 32, f('size_max')), true);
  v.setUint32(O.seg_max, uint(c.segMax, 32, f('seg_max')), true);
  const g = c.geometry ?? { cylinders: 0, heads: 0, sectors: 0 };
  v.setUint16(O.geometry_cylinders, uint(g.cylinders, 16, f('geometry.cylinders')), true);
  v.setUint8(O.geometry_heads, uint(g.heads, 8, f('geometry.heads')));
  v.setUint8(O.geometry_sectors, uint(g.sectors, 8, f('geometry.sectors')));
  v.setUint32(O.blk_size, uint(c.blkSize, 32, f('blk_size')), true);
  v.setUint8(O.physical_block_exp, uint(c.physicalBlockExp, 8, f('physical_block_exp')));
  v.setUint8(O.alignment_offset, uint(c.alignmentOffset, 8, f('alignment_offset')));
  v.setUint16(O.min_io_size, uint(c.minIoSize, 16, f('min_io_size')), true);
  v.setUint32(O.opt_io_size, uint(c.optIoSize, 32, f('opt_io_size')), true);
  v.setUint8(O.wce, uint(c.writeback ?? 0, 8, f('wce')));
  v.setUint16(O.num_queues, uint(c.numQueues, 16, f('num_queues')), true);
  v.setUint32(O.max_discard_sectors, uint(c.maxDiscardSectors, 32, f('max_discard_sectors')), true);
  v.setUint32(O.max_discard_seg, uint(c.maxDiscardSeg, 32, f('max_discard_seg')), true);
  v.setUint32(O.discard_sector_alignment, uint(c.discardSectorAlignment, 32, f('discard_sector_alignment')), true);
  v.setUint32(O.max_write_zeroes_sectors, uint(c.maxWriteZeroesSectors, 32, f('max_write_zeroes_sectors')), true);
  v.setUint32(O.max_write_zeroes_seg, uint(c.maxWriteZeroesSeg, 32, f('max_write_zeroes_seg')), true);
  v.setUint8(O.write_zeroes_may_unmap, uint(c.writeZeroesMayUnmap, 8, f('write_zeroes_may_unmap')));
  v.setUint32(O.max_secure_erase_sectors, uint(c.maxSecureEraseSectors ?? 0, 32, f('max_secure_erase_sectors')), true);
  v.setUint32(O.max_secure_erase_seg, uint(c.maxSecureEraseSeg ?? 0, 32, f('max_secure_erase_seg')), true);
  v.setUint32(
    O.secure_erase_sector_alignment,
    uint(c.secureEraseSectorAlignment ?? 0, 32, f('secure_erase_sector_alignment')),
    true,
  );
  return out;
}

/** Every field, optional ones included (the loopback driver reads config space through this). */
export function decodeBlkConfig(bytes: Uint8Array): Required<VirtioBlkConfig> {
  requireLength(bytes, VIRTIO_BLK_CONFIG_SIZE, 'virtio_blk_config');
  const v = viewOf(bytes);
  return {
    capacity: v.getBigUint64(O.capacity, true),
    sizeMax: v.getUint32(O.size_max, true),
    segMax: v.getUint32(O.seg_max, true),
    geometry: {
      cylinders: v.getUint16(O.geometry_cylinders, true),
      heads: v.getUint8(O.geometry_heads),
      sectors: v.getUint8(O.geometry_sectors),
    },
    blkSize: v.getUint32(O.blk_size, true),
    physicalBlockExp: v.getUint8(O.physical_block_exp),
    alignmentOffset: v.getUint8(O.alignment_offset),
    minIoSize: v.getUint16(O.min_io_size, true),
    optIoSize: v.getUint32(O.opt_io_size, true),
    writeback: v.getUint8(O.wce),
    numQueues: v.getUint16(O.num_queues, true),
    maxDiscardSectors: v.getUint32(O.max_discard_sectors, true),
    maxDiscardSeg: v.getUint32(O.max_discard_seg, true),
    discardSectorAlignment: v.getUint32(O.discard_sector_alignment, true),
    maxWriteZeroesSectors: v.getUint32(O.max_write_zeroes_sectors, true),
    maxWriteZeroesSeg: v.getUint32(O.max_write_zeroes_seg, true),
    writeZeroesMayUnmap: v.getUint8(O.write_zeroes_may_unmap),
    maxSecureEraseSectors: v.getUint32(O.max_secure_erase_sectors, true),
    maxSecureEraseSeg: v.getUint32(O.max_secure_erase_seg, true),
    secureEraseSectorAlignment: v.getUint32(O.secure_erase_sector_alignment, true),
  };
}
