/** The virtio-blk request layer (VIRTIO 1.2 §5.2): no I/O of its own, no VDUSE, no threads. */
export type { BlkDeviceSettings } from './settings.js';
export type {
  BlkRequest, BlkReadRequest, BlkWriteRequest, BlkFlushRequest, BlkGetIdRequest, BlkSegmentsRequest, BlkSegment,
} from './request.js';
export { parseRequest } from './request.js';
export { executeRequest, startRequest, statusForError } from './execute.js';
export { handleChain, handleChainThen, BLK_NO_STATUS } from './handle-chain.js';
export { sliceViews, copyFromViews, copyToViews, fillViews } from './iov.js';
