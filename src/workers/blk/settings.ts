/**
 * What the request layer needs to know about the device. The control plane
 * builds the virtio-blk config space (VIRTIO 1.2 §5.2.4) from the same
 * values, so the driver's view and the checks made here always agree.
 */
export interface BlkDeviceSettings {
  /** `capacity`: device size in 512-byte sectors, whatever `logicalBlockSize` is. */
  readonly capacitySectors: number;
  /** VIRTIO_BLK_F_RO offered: every write, discard and write-zeroes fails with IOERR. */
  readonly readOnly: boolean;
  /** GET_ID answer: ASCII, at most 20 bytes (VIRTIO_BLK_ID_BYTES), NUL-padded on the wire. */
  readonly serial: string;
  /** VIRTIO_BLK_F_DISCARD offered; when false, DISCARD completes with UNSUPP. */
  readonly discard: boolean;
  /** VIRTIO_BLK_F_WRITE_ZEROES offered; when false, WRITE_ZEROES completes with UNSUPP. */
  readonly writeZeroes: boolean;
  /** `max_discard_sectors`: the largest `num_sectors` of one discard segment. */
  readonly maxDiscardSectors: number;
  /** `max_discard_seg`: the most segments in one DISCARD request. */
  readonly maxDiscardSeg: number;
  /** `max_write_zeroes_sectors`: the largest `num_sectors` of one write-zeroes segment. */
  readonly maxWriteZeroesSectors: number;
  /** `max_write_zeroes_seg`: the most segments in one WRITE_ZEROES request. */
  readonly maxWriteZeroesSeg: number;
  /**
   * `blk_size` in bytes (power of two, 512..4096). Only advertised: requests
   * are still addressed in 512-byte sectors (§5.2.6) and the driver keeps
   * them aligned, so this layer does not check alignment.
   */
  readonly logicalBlockSize: number;
}
