/**
 * virtio constants used by the product (VIRTIO 1.2; names kept from the
 * uapi headers). Feature bits are numbers (bit positions); use
 * {@link featureMask} to turn a list into a bigint mask.
 */

// Device status bits (VIRTIO 1.2 §2.1).
export const VIRTIO_CONFIG_S_ACKNOWLEDGE = 0x01;
export const VIRTIO_CONFIG_S_DRIVER = 0x02;
export const VIRTIO_CONFIG_S_DRIVER_OK = 0x04;
export const VIRTIO_CONFIG_S_FEATURES_OK = 0x08;
export const VIRTIO_CONFIG_S_NEEDS_RESET = 0x40;
export const VIRTIO_CONFIG_S_FAILED = 0x80;

export const VIRTIO_ID_BLOCK = 2;

// Transport feature bits (VIRTIO 1.2 §6).
export const VIRTIO_F_INDIRECT_DESC = 28;
export const VIRTIO_F_EVENT_IDX = 29;
export const VIRTIO_F_VERSION_1 = 32;
export const VIRTIO_F_ACCESS_PLATFORM = 33;
export const VIRTIO_F_RING_PACKED = 34;
export const VIRTIO_F_IN_ORDER = 35;

// virtio-blk feature bits (VIRTIO 1.2 §5.2.3).
export const VIRTIO_BLK_F_SIZE_MAX = 1;
export const VIRTIO_BLK_F_SEG_MAX = 2;
export const VIRTIO_BLK_F_GEOMETRY = 4;
export const VIRTIO_BLK_F_RO = 5;
export const VIRTIO_BLK_F_BLK_SIZE = 6;
export const VIRTIO_BLK_F_FLUSH = 9;
export const VIRTIO_BLK_F_TOPOLOGY = 10;
export const VIRTIO_BLK_F_CONFIG_WCE = 11;
export const VIRTIO_BLK_F_MQ = 12;
export const VIRTIO_BLK_F_DISCARD = 13;
export const VIRTIO_BLK_F_WRITE_ZEROES = 14;
export const VIRTIO_BLK_F_LIFETIME = 15;
export const VIRTIO_BLK_F_SECURE_ERASE = 16;
export const VIRTIO_BLK_F_ZONED = 17;

/** The mask with the given feature bits set. */
export function featureMask(bits: readonly number[]): bigint {
  let mask = 0n;
  for (const bit of bits) mask |= 1n << BigInt(bit);
  return mask;
}

/** Whether `features` has bit `bit` set. */
export function hasFeature(features: bigint, bit: number): boolean {
  return ((features >> BigInt(bit)) & 1n) === 1n;
}

// Split virtqueue (VIRTIO 1.2 §2.7).
export const VRING_DESC_F_NEXT = 1;
export const VRING_DESC_F_WRITE = 2;
export const VRING_DESC_F_INDIRECT = 4;
export const VRING_AVAIL_F_NO_INTERRUPT = 1;
export const VRING_USED_F_NO_NOTIFY = 1;
/** Size of one `struct virtq_desc`. */
export const VRING_DESC_SIZE = 16;
/** Size of one `struct virtq_used_elem`. */
export const VRING_USED_ELEM_SIZE = 8;
/** Largest split-ring size (VIRTIO 1.2 §2.7). */
export const VIRTQ_MAX_SIZE = 32768;

// virtio-blk request types (VIRTIO 1.2 §5.2.6).
export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_T_GET_LIFETIME = 10;
export const VIRTIO_BLK_T_DISCARD = 11;
export const VIRTIO_BLK_T_WRITE_ZEROES = 13;
export const VIRTIO_BLK_T_SECURE_ERASE = 14;

// virtio-blk request status.
export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

/** Bytes of `struct virtio_blk_outhdr` (type, reserved/ioprio, sector). */
export const VIRTIO_BLK_OUTHDR_SIZE = 16;
/** Length of the GET_ID reply (VIRTIO_BLK_ID_BYTES). */
export const VIRTIO_BLK_ID_BYTES = 20;
/** Bytes of one discard / write-zeroes segment. */
export const VIRTIO_BLK_DISCARD_SEG_SIZE = 16;
export const VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP = 1;
/** virtio-blk sectors are always 512 bytes, whatever blk_size says. */
export const VIRTIO_BLK_SECTOR_SIZE = 512;
export const VIRTIO_BLK_SECTOR_SHIFT = 9;
