/**
 * The seam between the control plane and "the kernel": the same control
 * plane drives the real VDUSE kernel (kernel-transport.ts) and the simulated
 * one (src/loopback). Everything crosses it as the kernel's own byte layouts.
 */
import type { DeviceDescriptor } from './worker-data.js';
import type { VduseVqInfo } from './layouts/vq.js';

/** A virtqueue as VDUSE_VQ_GET_INFO reports it (split-ring state only). */
export type VqInfo = Omit<VduseVqInfo, 'packed'>;

/** Result of attaching the device to the vDPA bus. */
export interface AttachResult {
  /** `/dev/vdX` when the kernel's virtio_blk bound; null when no block device is expected (loopback, vhost-vdpa). */
  blockDevice: string | null;
}

/** Answers one control message: 152 request bytes in, 152 response bytes out. */
export type ControlMessageHandler = (request: Uint8Array) => Promise<Uint8Array>;

/** A created VDUSE device, seen from userspace. */
export interface VduseDeviceChannel {
  readonly name: string;
  /** VDUSE_VQ_SETUP. */
  vqSetup(index: number, maxSize: number): void;
  /** VDUSE_DEV_GET_FEATURES: what the driver acknowledged. */
  getFeatures(): bigint;
  /** VDUSE_VQ_GET_INFO. */
  vqGetInfo(index: number): VqInfo;
  /** VDUSE_VQ_SETUP_KICKFD (-1 deassigns). */
  setupKickfd(index: number, fd: number): void;
  /**
   * Starts serving control messages without blocking the calling thread:
   * each request is handed to `handler`, one at a time in arrival order, and
   * its response is written back.
   */
  serve(handler: ControlMessageHandler): void;
  /** What queue workers need for IOTLB look-ups and IRQs. */
  workerDevice(): DeviceDescriptor;
  /** VDPA_CMD_DEV_NEW, off the serving thread, then waits for the driver to bind. */
  attach(): Promise<AttachResult>;
  /** VDPA_CMD_DEV_DEL (while still serving: the driver flushes through us). */
  detach(): Promise<void>;
  /** Stops serving, closes the device and destroys it (VDUSE_DESTROY_DEV). */
  destroy(): Promise<void>;
}

/** Creates devices. */
export interface VduseTransport {
  /** 'vduse' for the kernel, 'loopback' for the simulation (for logs). */
  readonly kind: string;
  /** VDUSE_CREATE_DEV with an encoded vduse_dev_config (+ config space), then opens the device. */
  createDevice(name: string, devConfig: Uint8Array): Promise<VduseDeviceChannel>;
}
