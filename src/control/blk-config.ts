/**
 * What the device offers: feature bits, the virtio_blk config space, the
 * vduse_dev_config, and the request layer's settings, all derived from one
 * description so they cannot disagree.
 */
import {
  VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_MQ, VIRTIO_BLK_F_RO,
  VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_TOPOLOGY, VIRTIO_BLK_F_WRITE_ZEROES, VIRTIO_BLK_SECTOR_SIZE,
  VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, VIRTIO_ID_BLOCK,
  featureMask,
} from '../shared/virtio.js';
import { encodeBlkConfig, encodeDevConfig } from '../shared/layouts/index.js';
import type { BlkDeviceSettings } from '../shared/worker-data.js';

/** The shape of a virtio-blk device. */
export interface BlkDeviceShape {
  name: string;
  /** Capacity in bytes (a multiple of `logicalBlockSize`). */
  size: number;
  queues: number;
  queueSize: number;
  logicalBlockSize: number;
  serial: string;
  readOnly: boolean;
  discard: boolean;
  writeZeroes: boolean;
}

/** Red Hat's virtio vendor id, as QEMU and libvduse report it. */
const VIRTIO_VENDOR_ID = 0x1af4;
/** Split rings must be laid out with the used ring page-aligned (reference §1.7). */
const VQ_ALIGN = 4096;
/** Largest discard / write-zeroes request, in sectors (2 GiB). */
const MAX_DISCARD_SECTORS = 1 << 22;
/** Ranges per discard request (Linux caps at 256; each range is one backend call). */
const MAX_DISCARD_SEG = 32;

/** Feature bits offered to the driver. Never CONFIG_WCE (VDUSE refuses it) or SECURE_ERASE (broken under the bounce buffer). */
export function offeredFeatures(shape: BlkDeviceShape): bigint {
  const bits = [
    VIRTIO_F_VERSION_1, VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_EVENT_IDX,
    VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_TOPOLOGY,
  ];
  if (shape.queues > 1) bits.push(VIRTIO_BLK_F_MQ);
  if (shape.discard) bits.push(VIRTIO_BLK_F_DISCARD);
  if (shape.writeZeroes) bits.push(VIRTIO_BLK_F_WRITE_ZEROES);
  if (shape.readOnly) bits.push(VIRTIO_BLK_F_RO);
  return featureMask(bits);
}

/** The request layer's view of the same device. */
export function blkSettings(shape: BlkDeviceShape): BlkDeviceSettings {
  return {
    capacitySectors: Math.floor(shape.size / VIRTIO_BLK_SECTOR_SIZE),
    readOnly: shape.readOnly,
    serial: shape.serial,
    discard: shape.discard,
    writeZeroes: shape.writeZeroes,
    maxDiscardSectors: MAX_DISCARD_SECTORS,
    maxDiscardSeg: MAX_DISCARD_SEG,
    maxWriteZeroesSectors: MAX_DISCARD_SECTORS,
    maxWriteZeroesSeg: 1,
    logicalBlockSize: shape.logicalBlockSize,
  };
}

/** The 72-byte virtio_blk config space (reference §3.2). */
export function blkConfigSpace(shape: BlkDeviceShape): Uint8Array {
  const s = blkSettings(shape);
  return encodeBlkConfig({
    capacity: BigInt(s.capacitySectors),
    sizeMax: 0,
    // A chain is header + segments + status and must fit the queue (VIRTIO 1.2 §2.7.5.3.1).
    segMax: shape.queueSize - 2,
    blkSize: shape.logicalBlockSize,
    physicalBlockExp: 0,
    alignmentOffset: 0,
    minIoSize: 1,
    optIoSize: 0,
    numQueues: shape.queues,
    maxDiscardSectors: s.maxDiscardSectors,
    maxDiscardSeg: s.maxDiscardSeg,
    discardSectorAlignment: shape.logicalBlockSize / VIRTIO_BLK_SECTOR_SIZE,
    maxWriteZeroesSectors: s.maxWriteZeroesSectors,
    maxWriteZeroesSeg: s.maxWriteZeroesSeg,
    writeZeroesMayUnmap: 1,
  });
}

/** The encoded vduse_dev_config (+ config space) for VDUSE_CREATE_DEV. */
export function devConfig(shape: BlkDeviceShape): Uint8Array {
  return encodeDevConfig({
    name: shape.name,
    vendorId: VIRTIO_VENDOR_ID,
    deviceId: VIRTIO_ID_BLOCK,
    features: offeredFeatures(shape),
    vqNum: shape.queues,
    vqAlign: VQ_ALIGN,
    config: blkConfigSpace(shape),
  });
}
