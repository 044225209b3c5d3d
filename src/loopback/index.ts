/**
 * The loopback: a simulated VDUSE kernel and a TypeScript virtio-blk driver,
 * so that the whole product (control plane, queue workers, backends) runs
 * without root and without VDUSE. Public API for embedders testing backends.
 */
export { LoopbackTransport, LoopbackDevice, type LoopbackVq } from './kernel.js';
export { LoopbackBlkDriver, type LoopbackDriverOptions, type BlkRequestSpec, type BlkCompletion } from './blk-driver.js';
export { LoopbackGuestMemory, type GuestMemoryOptions, type GuestRegion } from './guest-memory.js';
export { DriverRing } from './driver-ring.js';
export { vringLayout, vringSize } from './vring-layout.js';
