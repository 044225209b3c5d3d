/**
 * struct vduse_config_data, the VDUSE_DEV_SET_CONFIG argument (reference
 * §1.3, §1.5): an 8-byte header then `length` bytes that replace the
 * kernel's copy of config space at `offset`. The kernel refuses length 0 and
 * ranges past config_size with EINVAL; it does not notify the driver (follow
 * with VDUSE_DEV_INJECT_CONFIG_IRQ).
 */
import { requireAtLeast, uint, viewOf } from './bytes.js';

export const VDUSE_CONFIG_DATA_HEADER_SIZE = 8;
export const VDUSE_CONFIG_DATA_OFFSETS = { offset: 0, length: 4, buffer: 8 } as const;

export interface VduseConfigData {
  /** Byte offset into the device config space. */
  offset: number;
  data: Uint8Array;
}

export function encodeConfigData(c: VduseConfigData): Uint8Array {
  const length = uint(c.data.byteLength, 32, 'vduse_config_data.length');
  const out = new Uint8Array(VDUSE_CONFIG_DATA_HEADER_SIZE + length);
  const v = viewOf(out);
  v.setUint32(VDUSE_CONFIG_DATA_OFFSETS.offset, uint(c.offset, 32, 'vduse_config_data.offset'), true);
  v.setUint32(VDUSE_CONFIG_DATA_OFFSETS.length, length, true);
  out.set(c.data, VDUSE_CONFIG_DATA_OFFSETS.buffer);
  return out;
}

/** Reads the header and copies the `length` bytes that follow it. */
export function decodeConfigData(bytes: Uint8Array): VduseConfigData {
  requireAtLeast(bytes, VDUSE_CONFIG_DATA_HEADER_SIZE, 'vduse_config_data');
  const v = viewOf(bytes);
  const length = v.getUint32(VDUSE_CONFIG_DATA_OFFSETS.length, true);
  requireAtLeast(bytes, VDUSE_CONFIG_DATA_HEADER_SIZE + length, 'vduse_config_data with its buffer');
  return {
    offset: v.getUint32(VDUSE_CONFIG_DATA_OFFSETS.offset, true),
    data: bytes.slice(VDUSE_CONFIG_DATA_OFFSETS.buffer, VDUSE_CONFIG_DATA_OFFSETS.buffer + length),
  };
}
