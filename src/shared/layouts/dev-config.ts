/**
 * struct vduse_dev_config, the VDUSE_CREATE_DEV argument (reference §1.3):
 * a 336-byte header followed by `config_size` bytes of virtio config space.
 * The kernel reads the header, validates it (reserved must be zero in API
 * v0), then copies `config_size` more bytes from offset 336.
 */
import { requireAtLeast, u64, uint, viewOf, isZero } from './bytes.js';
import { readDeviceName, writeDeviceName } from './name.js';

export const VDUSE_DEV_CONFIG_SIZE = 336;

/** Field offsets, named as in include/uapi/linux/vduse.h. */
export const VDUSE_DEV_CONFIG_OFFSETS = {
  name: 0,
  vendor_id: 256,
  device_id: 260,
  features: 264,
  vq_num: 272,
  vq_align: 276,
  /** u32 reserved[13]; API v1 (7.0) carves ngroups@280 and nas@284 out of it. */
  reserved: 280,
  config_size: 332,
  config: 336,
} as const;

const O = VDUSE_DEV_CONFIG_OFFSETS;

export interface VduseDevConfig {
  name: string;
  vendorId: number;
  deviceId: number;
  /** Device features offered (u64 bit mask). */
  features: bigint;
  vqNum: number;
  vqAlign: number;
  /** Device config space (e.g. the 72-byte virtio_blk_config); its length becomes config_size. */
  config: Uint8Array;
}

export interface DecodedVduseDevConfig extends VduseDevConfig {
  configSize: number;
  /** False when reserved[13] holds anything: the 6.1 kernel answers EINVAL. */
  reservedIsZero: boolean;
}

/** Builds the VDUSE_CREATE_DEV argument: header, reserved zeroed, config_size set, config appended. */
export function encodeDevConfig(cfg: VduseDevConfig): Uint8Array {
  if (!(cfg.config instanceof Uint8Array)) throw new TypeError('vduse_dev_config.config: must be a Uint8Array');
  const configSize = uint(cfg.config.byteLength, 32, 'vduse_dev_config.config_size');
  const out = new Uint8Array(VDUSE_DEV_CONFIG_SIZE + configSize);
  const v = viewOf(out);
  writeDeviceName(out, O.name, cfg.name);
  v.setUint32(O.vendor_id, uint(cfg.vendorId, 32, 'vduse_dev_config.vendor_id'), true);
  v.setUint32(O.device_id, uint(cfg.deviceId, 32, 'vduse_dev_config.device_id'), true);
  v.setBigUint64(O.features, u64(cfg.features, 'vduse_dev_config.features'), true);
  v.setUint32(O.vq_num, uint(cfg.vqNum, 32, 'vduse_dev_config.vq_num'), true);
  v.setUint32(O.vq_align, uint(cfg.vqAlign, 32, 'vduse_dev_config.vq_align'), true);
  v.setUint32(O.config_size, configSize, true);
  out.set(cfg.config, O.config);
  return out;
}

/**
 * Reads a VDUSE_CREATE_DEV argument (the simulated kernel's side). The
 * buffer must hold the header and the `config_size` bytes it announces.
 */
export function decodeDevConfig(bytes: Uint8Array): DecodedVduseDevConfig {
  requireAtLeast(bytes, VDUSE_DEV_CONFIG_SIZE, 'vduse_dev_config');
  const v = viewOf(bytes);
  const configSize = v.getUint32(O.config_size, true);
  requireAtLeast(bytes, VDUSE_DEV_CONFIG_SIZE + configSize, 'vduse_dev_config with its config');
  return {
    name: readDeviceName(bytes, O.name),
    vendorId: v.getUint32(O.vendor_id, true),
    deviceId: v.getUint32(O.device_id, true),
    features: v.getBigUint64(O.features, true),
    vqNum: v.getUint32(O.vq_num, true),
    vqAlign: v.getUint32(O.vq_align, true),
    configSize,
    config: bytes.slice(O.config, O.config + configSize),
    reservedIsZero: isZero(bytes, O.reserved, O.config_size),
  };
}
