/**
 * IOVA-related ioctl arguments (reference §1.3, §1.5, §1.8):
 * vduse_iotlb_entry (VDUSE_IOTLB_GET_FD: in start/last, out the region
 * with its mmap offset and permission), vduse_iova_info
 * (VDUSE_IOTLB_GET_INFO) and vduse_iova_umem (REG_UMEM / DEREG_UMEM).
 * All bounds are inclusive (`last`, not `end`).
 */
import { requireLength, u64, uint, viewOf, isZero } from './bytes.js';

export const VDUSE_IOTLB_ENTRY_SIZE = 32;
export const VDUSE_IOTLB_ENTRY_OFFSETS = {
  offset: 0,
  start: 8,
  last: 16,
  perm: 24,
  /** bytes 25..31 are padding */
} as const;

const E = VDUSE_IOTLB_ENTRY_OFFSETS;

export interface VduseIotlbEntry {
  /** mmap offset of `start` in the fd the ioctl returns. */
  offset: bigint;
  start: bigint;
  /** Inclusive. */
  last: bigint;
  /** VDUSE_ACCESS_RO / WO / RW. */
  perm: number;
}

/** The VDUSE_IOTLB_GET_FD argument going in (offset and perm are outputs; the kernel ignores them). */
export function encodeIotlbEntry(e: Pick<VduseIotlbEntry, 'start' | 'last'> & Partial<VduseIotlbEntry>): Uint8Array {
  const out = new Uint8Array(VDUSE_IOTLB_ENTRY_SIZE);
  const v = viewOf(out);
  v.setBigUint64(E.offset, u64(e.offset ?? 0n, 'vduse_iotlb_entry.offset'), true);
  v.setBigUint64(E.start, u64(e.start, 'vduse_iotlb_entry.start'), true);
  v.setBigUint64(E.last, u64(e.last, 'vduse_iotlb_entry.last'), true);
  v.setUint8(E.perm, uint(e.perm ?? 0, 8, 'vduse_iotlb_entry.perm'));
  return out;
}

export function decodeIotlbEntry(bytes: Uint8Array): VduseIotlbEntry {
  requireLength(bytes, VDUSE_IOTLB_ENTRY_SIZE, 'vduse_iotlb_entry');
  const v = viewOf(bytes);
  return {
    offset: v.getBigUint64(E.offset, true),
    start: v.getBigUint64(E.start, true),
    last: v.getBigUint64(E.last, true),
    perm: v.getUint8(E.perm),
  };
}

export const VDUSE_IOVA_INFO_SIZE = 48;
export const VDUSE_IOVA_INFO_OFFSETS = {
  start: 0,
  last: 8,
  capability: 16,
  /** u64 reserved[3], must be zero */
  reserved: 24,
} as const;

export interface VduseIovaInfo {
  start: bigint;
  last: bigint;
  /** VDUSE_IOVA_CAP_UMEM (1) on the bounce region. */
  capability: bigint;
}

export function encodeIovaInfo(info: Pick<VduseIovaInfo, 'start' | 'last'> & Partial<VduseIovaInfo>): Uint8Array {
  const out = new Uint8Array(VDUSE_IOVA_INFO_SIZE);
  const v = viewOf(out);
  v.setBigUint64(VDUSE_IOVA_INFO_OFFSETS.start, u64(info.start, 'vduse_iova_info.start'), true);
  v.setBigUint64(VDUSE_IOVA_INFO_OFFSETS.last, u64(info.last, 'vduse_iova_info.last'), true);
  v.setBigUint64(VDUSE_IOVA_INFO_OFFSETS.capability, u64(info.capability ?? 0n, 'vduse_iova_info.capability'), true);
  return out;
}

export function decodeIovaInfo(bytes: Uint8Array): VduseIovaInfo {
  requireLength(bytes, VDUSE_IOVA_INFO_SIZE, 'vduse_iova_info');
  const v = viewOf(bytes);
  return {
    start: v.getBigUint64(VDUSE_IOVA_INFO_OFFSETS.start, true),
    last: v.getBigUint64(VDUSE_IOVA_INFO_OFFSETS.last, true),
    capability: v.getBigUint64(VDUSE_IOVA_INFO_OFFSETS.capability, true),
  };
}

export const VDUSE_IOVA_UMEM_SIZE = 48;
export const VDUSE_IOVA_UMEM_OFFSETS = {
  uaddr: 0,
  iova: 8,
  size: 16,
  /** u64 reserved[3], must be zero */
  reserved: 24,
} as const;

export interface VduseIovaUmem {
  uaddr: bigint;
  iova: bigint;
  size: bigint;
}

export function encodeIovaUmem(u: VduseIovaUmem): Uint8Array {
  const out = new Uint8Array(VDUSE_IOVA_UMEM_SIZE);
  const v = viewOf(out);
  v.setBigUint64(VDUSE_IOVA_UMEM_OFFSETS.uaddr, u64(u.uaddr, 'vduse_iova_umem.uaddr'), true);
  v.setBigUint64(VDUSE_IOVA_UMEM_OFFSETS.iova, u64(u.iova, 'vduse_iova_umem.iova'), true);
  v.setBigUint64(VDUSE_IOVA_UMEM_OFFSETS.size, u64(u.size, 'vduse_iova_umem.size'), true);
  return out;
}

export function decodeIovaUmem(bytes: Uint8Array): VduseIovaUmem & { reservedIsZero: boolean } {
  requireLength(bytes, VDUSE_IOVA_UMEM_SIZE, 'vduse_iova_umem');
  const v = viewOf(bytes);
  return {
    uaddr: v.getBigUint64(VDUSE_IOVA_UMEM_OFFSETS.uaddr, true),
    iova: v.getBigUint64(VDUSE_IOVA_UMEM_OFFSETS.iova, true),
    size: v.getBigUint64(VDUSE_IOVA_UMEM_OFFSETS.size, true),
    reservedIsZero: isZero(bytes, VDUSE_IOVA_UMEM_OFFSETS.reserved, VDUSE_IOVA_UMEM_SIZE),
  };
}
