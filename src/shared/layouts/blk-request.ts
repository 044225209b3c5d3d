/**
 * virtio-blk request pieces (VIRTIO 1.2 §5.2.6; reference §3.3): the
 * 16-byte device-readable header (struct virtio_blk_outhdr) and the 16-byte
 * segment carried by DISCARD, WRITE_ZEROES and SECURE_ERASE
 * (struct virtio_blk_discard_write_zeroes). Both are little-endian.
 */
import { VIRTIO_BLK_DISCARD_SEG_SIZE, VIRTIO_BLK_OUTHDR_SIZE } from '../virtio.js';
import { requireLength, u64, uint, viewOf } from './bytes.js';

export { VIRTIO_BLK_OUTHDR_SIZE, VIRTIO_BLK_DISCARD_SEG_SIZE };

export const VIRTIO_BLK_OUTHDR_OFFSETS = {
  type: 0,
  /** legacy `ioprio`, reserved in VIRTIO 1.x */
  ioprio: 4,
  sector: 8,
} as const;

export interface VirtioBlkOutHdr {
  /** VIRTIO_BLK_T_*. */
  type: number;
  /** Reserved (legacy ioprio); devices ignore it. */
  ioprio: number;
  /** First 512-byte sector. */
  sector: bigint;
}

export function encodeBlkOutHdr(h: VirtioBlkOutHdr): Uint8Array {
  const out = new Uint8Array(VIRTIO_BLK_OUTHDR_SIZE);
  const v = viewOf(out);
  v.setUint32(VIRTIO_BLK_OUTHDR_OFFSETS.type, uint(h.type, 32, 'virtio_blk_outhdr.type'), true);
  v.setUint32(VIRTIO_BLK_OUTHDR_OFFSETS.ioprio, uint(h.ioprio, 32, 'virtio_blk_outhdr.ioprio'), true);
  v.setBigUint64(VIRTIO_BLK_OUTHDR_OFFSETS.sector, u64(h.sector, 'virtio_blk_outhdr.sector'), true);
  return out;
}

export function decodeBlkOutHdr(bytes: Uint8Array): VirtioBlkOutHdr {
  requireLength(bytes, VIRTIO_BLK_OUTHDR_SIZE, 'virtio_blk_outhdr');
  const v = viewOf(bytes);
  return {
    type: v.getUint32(VIRTIO_BLK_OUTHDR_OFFSETS.type, true),
    ioprio: v.getUint32(VIRTIO_BLK_OUTHDR_OFFSETS.ioprio, true),
    sector: v.getBigUint64(VIRTIO_BLK_OUTHDR_OFFSETS.sector, true),
  };
}

export const VIRTIO_BLK_DISCARD_SEG_OFFSETS = {
  sector: 0,
  num_sectors: 8,
  /** bit 0: VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP; bits 1..31 reserved (device answers UNSUPP) */
  flags: 12,
} as const;

export interface VirtioBlkDiscardSegment {
  sector: bigint;
  numSectors: number;
  flags: number;
}

export function encodeBlkDiscardSegment(s: VirtioBlkDiscardSegment): Uint8Array {
  const out = new Uint8Array(VIRTIO_BLK_DISCARD_SEG_SIZE);
  const v = viewOf(out);
  v.setBigUint64(VIRTIO_BLK_DISCARD_SEG_OFFSETS.sector, u64(s.sector, 'virtio_blk_discard_write_zeroes.sector'), true);
  v.setUint32(
    VIRTIO_BLK_DISCARD_SEG_OFFSETS.num_sectors,
    uint(s.numSectors, 32, 'virtio_blk_discard_write_zeroes.num_sectors'),
    true,
  );
  v.setUint32(VIRTIO_BLK_DISCARD_SEG_OFFSETS.flags, uint(s.flags, 32, 'virtio_blk_discard_write_zeroes.flags'), true);
  return out;
}

export function decodeBlkDiscardSegment(bytes: Uint8Array): VirtioBlkDiscardSegment {
  requireLength(bytes, VIRTIO_BLK_DISCARD_SEG_SIZE, 'virtio_blk_discard_write_zeroes');
  const v = viewOf(bytes);
  return {
    sector: v.getBigUint64(VIRTIO_BLK_DISCARD_SEG_OFFSETS.sector, true),
    numSectors: v.getUint32(VIRTIO_BLK_DISCARD_SEG_OFFSETS.num_sectors, true),
    flags: v.getUint32(VIRTIO_BLK_DISCARD_SEG_OFFSETS.flags, true),
  };
}

/** Splits a segment array (a multiple of 16 bytes, else RangeError) into segments. */
export function decodeBlkDiscardSegments(bytes: Uint8Array): VirtioBlkDiscardSegment[] {
  if (bytes.byteLength % VIRTIO_BLK_DISCARD_SEG_SIZE !== 0) {
    throw new RangeError(
      `virtio_blk_discard_write_zeroes[]: ${bytes.byteLength} bytes is not a multiple of ${VIRTIO_BLK_DISCARD_SEG_SIZE}`,
    );
  }
  const segments: VirtioBlkDiscardSegment[] = [];
  for (let at = 0; at < bytes.byteLength; at += VIRTIO_BLK_DISCARD_SEG_SIZE) {
    segments.push(decodeBlkDiscardSegment(bytes.subarray(at, at + VIRTIO_BLK_DISCARD_SEG_SIZE)));
  }
  return segments;
}
