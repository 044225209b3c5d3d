/**
 * vduse-blk as a library: create a virtio-blk device served by this process,
 * on the real kernel (VDUSE) or on the loopback kernel, with a file, memory
 * or custom backend.
 *
 * @example
 * ```ts
 * import { DeviceServer, KernelTransport, openBackingFile } from 'vduse-blk';
 * const file = openBackingFile({ path: 'disk.img', size: 1 << 30, readOnly: false, writethrough: false,
 *   logicalBlockSize: 512 });
 * const server = await DeviceServer.create({
 *   transport: new KernelTransport(),
 *   shape: { name: 'vdisk0', size: file.size, queues: 4, queueSize: 256, logicalBlockSize: 512,
 *     serial: 'vdisk0', readOnly: false, discard: true, writeZeroes: true },
 *   backend: { kind: 'file', fd: file.fd, size: file.size, readOnly: false },
 * });
 * const { blockDevice } = await server.attach(); // e.g. /dev/vda
 * // ... later
 * await server.stop();
 * file.close();
 * ```
 */
export { DeviceServer, type DeviceServerOptions, type QueueStats } from './control/device-server.js';
export { KernelTransport } from './control/kernel-transport.js';
export { openBackingFile, type BackingFile, type BackingFileOptions } from './control/backing-file.js';
export { createMemoryDisk, type MemoryDisk } from './control/memory-disk.js';
export { checkVduseAvailable } from './control/preflight.js';
export { offeredFeatures, blkConfigSpace, type BlkDeviceShape } from './control/blk-config.js';
export type { VduseTransport, VduseDeviceChannel, AttachResult, VqInfo } from './shared/transport.js';
export type { BlockBackend } from './workers/backends/backend.js';
export { Completion, type SettleListener } from './workers/backends/completion.js';
export type { BackendDescriptor, BlkDeviceSettings } from './shared/worker-data.js';
export type { BackendContext, BackendFactory } from './workers/backends/index.js';
export {
  VduseBlkError, VduseUnavailableError, DeviceExistsError, BackendError, AttachError, WorkerError,
} from './shared/errors.js';
export { createLogger, type Logger, type LogLevel } from './shared/logger.js';
export { QueueState } from './shared/queue-control.js';
