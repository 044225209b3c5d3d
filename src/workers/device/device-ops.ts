/**
 * What a queue worker needs from "the kernel side" of its device, whichever
 * it is: find and open the memory region behind an IOVA, and raise the
 * queue's interrupt.
 */

/** One IOTLB region, as VDUSE_IOTLB_GET_FD describes it. */
export interface IotlbMapping {
  /** A new fd for the region; the caller closes it once mapped. */
  fd: number;
  /** mmap offset in `fd` of the region's first byte. */
  offset: number;
  /** First IOVA of the region. */
  start: number;
  /** Last IOVA of the region (inclusive). */
  last: number;
  /** VDUSE_ACCESS_* bits. */
  perm: number;
}

export interface DeviceOps {
  /** The region overlapping [start, last]; throws when there is none. */
  iotlbGetFd(start: number, last: number): IotlbMapping;
  /** Signals the driver that used buffers are ready on `queueIndex`. */
  injectIrq(queueIndex: number): void;
}
