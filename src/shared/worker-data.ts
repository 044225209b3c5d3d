/**
 * What the control plane hands a queue worker (structured-cloned as
 * `workerData`) and the messages a worker posts back. The types live here,
 * in the leaf layer, because both sides build or read them.
 */

/** virtio-blk settings the request layer enforces (the config space says the same). */
export interface BlkDeviceSettings {
  /** Capacity in 512-byte sectors. */
  capacitySectors: number;
  readOnly: boolean;
  /** Up to 20 bytes of ASCII, returned by GET_ID NUL-padded. */
  serial: string;
  discard: boolean;
  writeZeroes: boolean;
  maxDiscardSectors: number;
  maxDiscardSeg: number;
  maxWriteZeroesSectors: number;
  maxWriteZeroesSeg: number;
  logicalBlockSize: number;
}

/** Where a worker's backend comes from; every kind opens inside the worker. */
export type BackendDescriptor =
  /** A file the control plane opened; `fd` is valid in every thread and owned by the control plane. */
  | { kind: 'file'; fd: number; size: number; readOnly: boolean }
  /** A memory disk shared by all queues. */
  | { kind: 'memory'; buffer: SharedArrayBuffer }
  /**
   * A custom backend: an ES module whose export `exportName` (default
   * `createBackend`) is called as `(options, { queueIndex })` and returns a
   * BlockBackend (or a promise of one).
   */
  | { kind: 'module'; specifier: string; exportName?: string; options?: unknown };

/** How a worker reaches the device for IOTLB look-ups and IRQs. */
export type DeviceDescriptor =
  /** The kernel: ioctls on the /dev/vduse/NAME fd (VDUSE_IOTLB_GET_FD, VDUSE_VQ_INJECT_IRQ). */
  | { kind: 'vduse'; devFd: number }
  /**
   * The loopback kernel: IOTLB entries in a shared table (see
   * loopback-iotlb.ts) and one IRQ eventfd per queue.
   */
  | { kind: 'loopback'; iotlb: SharedArrayBuffer; irqFds: number[] };

/** The ring a worker serves, as VQ_GET_INFO reported it. */
export interface RingInfo {
  size: number;
  descAddr: number;
  driverAddr: number;
  deviceAddr: number;
  /** Where to resume popping (the driver-set avail index after a reset). */
  lastAvailIdx: number;
}

/** `workerData` of a queue worker. */
export interface QueueWorkerData {
  queueIndex: number;
  ring: RingInfo;
  /** Negotiated features. */
  features: bigint;
  kickFd: number;
  /** Eventfd the control plane writes after changing the control block. */
  wakeFd: number;
  control: SharedArrayBuffer;
  device: DeviceDescriptor;
  backend: BackendDescriptor;
  blk: BlkDeviceSettings;
  /** CPU to pin the worker thread to, or null. */
  cpu: number | null;
}

/** Messages a worker posts to the control plane (lifecycle only, never per request). */
export type WorkerMessage =
  | { type: 'started'; queueIndex: number; tid: number; cpus: number[] }
  | { type: 'queue-failed'; queueIndex: number; reason: string }
  | { type: 'error'; queueIndex: number; message: string };
