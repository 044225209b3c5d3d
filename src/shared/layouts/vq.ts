/**
 * Per-virtqueue ioctl arguments (reference §1.3, §1.5): vduse_vq_config
 * (VDUSE_VQ_SETUP), vduse_vq_info (VDUSE_VQ_GET_INFO, in: index; out: the
 * rest), vduse_vq_eventfd (VDUSE_VQ_SETUP_KICKFD) and the u32 queue index
 * of VDUSE_VQ_INJECT_IRQ.
 */
import { requireLength, u64, uint, int32, viewOf, isZero } from './bytes.js';

export const VDUSE_VQ_CONFIG_SIZE = 32;
export const VDUSE_VQ_CONFIG_OFFSETS = {
  index: 0,
  max_size: 4,
  /** u16 reserved[13], must be zero (API v1 puts group@8 here) */
  reserved: 6,
} as const;

export interface VduseVqConfig {
  index: number;
  /** Largest ring size; must be non-zero for every queue before DEV_NEW. */
  maxSize: number;
}

export function encodeVqConfig(cfg: VduseVqConfig): Uint8Array {
  const out = new Uint8Array(VDUSE_VQ_CONFIG_SIZE);
  const v = viewOf(out);
  v.setUint32(VDUSE_VQ_CONFIG_OFFSETS.index, uint(cfg.index, 32, 'vduse_vq_config.index'), true);
  v.setUint16(VDUSE_VQ_CONFIG_OFFSETS.max_size, uint(cfg.maxSize, 16, 'vduse_vq_config.max_size'), true);
  return out;
}

export function decodeVqConfig(bytes: Uint8Array): VduseVqConfig & { reservedIsZero: boolean } {
  requireLength(bytes, VDUSE_VQ_CONFIG_SIZE, 'vduse_vq_config');
  const v = viewOf(bytes);
  return {
    index: v.getUint32(VDUSE_VQ_CONFIG_OFFSETS.index, true),
    maxSize: v.getUint16(VDUSE_VQ_CONFIG_OFFSETS.max_size, true),
    reservedIsZero: isZero(bytes, VDUSE_VQ_CONFIG_OFFSETS.reserved, VDUSE_VQ_CONFIG_SIZE),
  };
}

export const VDUSE_VQ_INFO_SIZE = 48;
export const VDUSE_VQ_INFO_OFFSETS = {
  index: 0,
  num: 4,
  desc_addr: 8,
  driver_addr: 16,
  device_addr: 24,
  /** union at 32: split.avail_index (u16) or packed.{last_avail_counter, last_avail_idx, last_used_counter, last_used_idx} */
  split_avail_index: 32,
  packed_last_avail_counter: 32,
  packed_last_avail_idx: 34,
  packed_last_used_counter: 36,
  packed_last_used_idx: 38,
  ready: 40,
} as const;

const I = VDUSE_VQ_INFO_OFFSETS;

export interface VduseVqStatePacked {
  lastAvailCounter: number;
  lastAvailIdx: number;
  lastUsedCounter: number;
  lastUsedIdx: number;
}

export interface VduseVqInfo {
  index: number;
  /** Ring size the driver chose; 0 when the queue is not set up. */
  num: number;
  /** IOVAs of the descriptor table, driver area (avail ring) and device area (used ring). */
  descAddr: bigint;
  driverAddr: bigint;
  deviceAddr: bigint;
  /** split.avail_index: the same bytes as packed.lastAvailCounter; which one applies depends on VIRTIO_F_RING_PACKED. */
  availIndex: number;
  packed: VduseVqStatePacked;
  ready: boolean;
}

/** The VDUSE_VQ_GET_INFO argument going in: only the index is read by the kernel. */
export function encodeVqInfoRequest(index: number): Uint8Array {
  const out = new Uint8Array(VDUSE_VQ_INFO_SIZE);
  viewOf(out).setUint32(I.index, uint(index, 32, 'vduse_vq_info.index'), true);
  return out;
}

/**
 * The whole struct, as the simulated kernel fills it. When `packed` is given
 * it overwrites the union (availIndex is then ignored).
 */
export function encodeVqInfo(info: Partial<VduseVqInfo> & { index: number }): Uint8Array {
  const out = encodeVqInfoRequest(info.index);
  const v = viewOf(out);
  v.setUint32(I.num, uint(info.num ?? 0, 32, 'vduse_vq_info.num'), true);
  v.setBigUint64(I.desc_addr, u64(info.descAddr ?? 0n, 'vduse_vq_info.desc_addr'), true);
  v.setBigUint64(I.driver_addr, u64(info.driverAddr ?? 0n, 'vduse_vq_info.driver_addr'), true);
  v.setBigUint64(I.device_addr, u64(info.deviceAddr ?? 0n, 'vduse_vq_info.device_addr'), true);
  if (info.packed !== undefined) {
    const p = info.packed;
    v.setUint16(I.packed_last_avail_counter, uint(p.lastAvailCounter, 16, 'packed.last_avail_counter'), true);
    v.setUint16(I.packed_last_avail_idx, uint(p.lastAvailIdx, 16, 'packed.last_avail_idx'), true);
    v.setUint16(I.packed_last_used_counter, uint(p.lastUsedCounter, 16, 'packed.last_used_counter'), true);
    v.setUint16(I.packed_last_used_idx, uint(p.lastUsedIdx, 16, 'packed.last_used_idx'), true);
  } else {
    v.setUint16(I.split_avail_index, uint(info.availIndex ?? 0, 16, 'vduse_vq_info.split.avail_index'), true);
  }
  v.setUint8(I.ready, info.ready === true ? 1 : 0);
  return out;
}

export function decodeVqInfo(bytes: Uint8Array): VduseVqInfo {
  requireLength(bytes, VDUSE_VQ_INFO_SIZE, 'vduse_vq_info');
  const v = viewOf(bytes);
  return {
    index: v.getUint32(I.index, true),
    num: v.getUint32(I.num, true),
    descAddr: v.getBigUint64(I.desc_addr, true),
    driverAddr: v.getBigUint64(I.driver_addr, true),
    deviceAddr: v.getBigUint64(I.device_addr, true),
    availIndex: v.getUint16(I.split_avail_index, true),
    packed: {
      lastAvailCounter: v.getUint16(I.packed_last_avail_counter, true),
      lastAvailIdx: v.getUint16(I.packed_last_avail_idx, true),
      lastUsedCounter: v.getUint16(I.packed_last_used_counter, true),
      lastUsedIdx: v.getUint16(I.packed_last_used_idx, true),
    },
    ready: v.getUint8(I.ready) !== 0,
  };
}

export const VDUSE_VQ_EVENTFD_SIZE = 8;
export const VDUSE_VQ_EVENTFD_OFFSETS = { index: 0, fd: 4 } as const;

export interface VduseVqEventfd {
  index: number;
  /** An eventfd, or VDUSE_EVENTFD_DEASSIGN (-1). */
  fd: number;
}

export function encodeVqEventfd(e: VduseVqEventfd): Uint8Array {
  const out = new Uint8Array(VDUSE_VQ_EVENTFD_SIZE);
  const v = viewOf(out);
  v.setUint32(VDUSE_VQ_EVENTFD_OFFSETS.index, uint(e.index, 32, 'vduse_vq_eventfd.index'), true);
  v.setInt32(VDUSE_VQ_EVENTFD_OFFSETS.fd, int32(e.fd, 'vduse_vq_eventfd.fd'), true);
  return out;
}

export function decodeVqEventfd(bytes: Uint8Array): VduseVqEventfd {
  requireLength(bytes, VDUSE_VQ_EVENTFD_SIZE, 'vduse_vq_eventfd');
  const v = viewOf(bytes);
  return {
    index: v.getUint32(VDUSE_VQ_EVENTFD_OFFSETS.index, true),
    fd: v.getInt32(VDUSE_VQ_EVENTFD_OFFSETS.fd, true),
  };
}

/** The VDUSE_VQ_INJECT_IRQ argument: a pointer to a u32 queue index. */
export const VDUSE_VQ_INJECT_IRQ_ARG_SIZE = 4;

export function encodeVqIndex(index: number): Uint8Array {
  const out = new Uint8Array(VDUSE_VQ_INJECT_IRQ_ARG_SIZE);
  viewOf(out).setUint32(0, uint(index, 32, 'vq index'), true);
  return out;
}

export function decodeVqIndex(bytes: Uint8Array): number {
  requireLength(bytes, VDUSE_VQ_INJECT_IRQ_ARG_SIZE, 'vq index');
  return viewOf(bytes).getUint32(0, true);
}
