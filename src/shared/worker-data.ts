/**
 * What the control plane hands a queue worker (structured-cloned as
 * `workerData`) and the messages a worker posts back. The types live here,
 * in the leaf layer, because both sides build or read them.
 */

/**
 * What the request layer needs to know about the device. The control plane
 * builds the virtio-blk config space (VIRTIO 1.2 §5.2.4) from the same
 * values, so the driver's view and the checks made there always agree.
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

/**
 * Where a worker's backend comes from (structured-cloned: fds are plain
 * numbers valid in every thread, a SharedArrayBuffer is shared, a module is
 * named by specifier). Each queue worker opens its own backend from it.
 */
export type BackendDescriptor =
  /** A file or block device the control plane opened (it keeps ownership of `fd`). */
  | { readonly kind: 'file'; readonly fd: number; readonly size: number; readonly readOnly: boolean }
  /** A RAM disk shared by every queue, in a SharedArrayBuffer. */
  | { readonly kind: 'memory'; readonly buffer: SharedArrayBuffer }
  /**
   * A RAM disk shared by every queue, in a shared-memory file (a memfd from
   * createMemoryDisk, or a file on tmpfs or hugetlbfs): each worker maps
   * `size` bytes of `fd` MAP_SHARED. Faster than a SharedArrayBuffer (plain
   * memcpy). The creator keeps ownership of `fd`.
   */
  | { readonly kind: 'memfd'; readonly fd: number; readonly size: number }
  /**
   * An embedder's backend: the ES module at `specifier` (a URL, an absolute
   * path, a path relative to the working directory, or a package name)
   * exports a factory `exportName` (default `createBackend`), called as
   * `factory(options, context)`, returning a BlockBackend or a promise of one.
   * DeviceServer.create calls it once first, in a worker, for queue 0, and
   * closes that backend at once: a module that fails to load or open, or a
   * backend smaller than the device, fails create() with a BackendError
   * before the device exists.
   */
  | { readonly kind: 'module'; readonly specifier: string; readonly exportName?: string; readonly options?: unknown };

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
  /** Microseconds to keep polling the ring after it runs dry, before sleeping on the kick fd (0: never). */
  pollMicros: number;
}

/** Messages a worker posts to the control plane (lifecycle only, never per request). */
export type WorkerMessage =
  /** `io`: how a file backend does its I/O ('sync', 'uring' or 'threads'); absent for other backends. */
  | { type: 'started'; queueIndex: number; tid: number; cpus: number[]; io?: string }
  | { type: 'queue-failed'; queueIndex: number; reason: string }
  | { type: 'error'; queueIndex: number; message: string };

/** workerData of the backend probe (src/workers/backend-probe.ts). */
export interface BackendProbeData {
  backend: BackendDescriptor;
  /** Bytes the device will have: the backend must hold at least as many. */
  deviceSize: number;
}

/** The probe's one message: the backend opened and fits, or why not. */
export type BackendProbeResult = { ok: true } | { ok: false; message: string };
