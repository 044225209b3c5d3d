/**
 * struct vduse_dev_request: one control message per read() of
 * /dev/vduse/NAME, always 152 bytes (reference §1.3, §1.6). Decoded into a
 * discriminated union; the simulated kernel encodes the same struct.
 */
import { VDUSE_GET_VQ_STATE, VDUSE_SET_STATUS, VDUSE_UPDATE_IOTLB } from '../vduse.js';
import { requireLength, u64, uint, viewOf } from './bytes.js';

export const VDUSE_DEV_REQUEST_SIZE = 152;

/** Field offsets, named as in include/uapi/linux/vduse.h. */
export const VDUSE_DEV_REQUEST_OFFSETS = {
  type: 0,
  request_id: 4,
  /** u32 reserved[4] */
  reserved: 8,
  /** union: vq_state.index (u32) | s.status (u8) | iova.start (u64) | padding[32] */
  payload: 24,
  vq_state_index: 24,
  status: 24,
  iova_start: 24,
  iova_last: 32,
} as const;

const O = VDUSE_DEV_REQUEST_OFFSETS;

/** A control message from the kernel. Unknown types must still be answered (FAILED) so the kernel does not time out. */
export type VduseDevRequest =
  | { type: 'get-vq-state'; requestId: number; index: number }
  | { type: 'set-status'; requestId: number; status: number }
  | { type: 'update-iotlb'; requestId: number; start: bigint; last: bigint }
  | { type: 'unknown'; requestId: number; rawType: number };

export function decodeDevRequest(bytes: Uint8Array): VduseDevRequest {
  requireLength(bytes, VDUSE_DEV_REQUEST_SIZE, 'vduse_dev_request');
  const v = viewOf(bytes);
  const rawType = v.getUint32(O.type, true);
  const requestId = v.getUint32(O.request_id, true);
  switch (rawType) {
    case VDUSE_GET_VQ_STATE:
      return { type: 'get-vq-state', requestId, index: v.getUint32(O.vq_state_index, true) };
    case VDUSE_SET_STATUS:
      return { type: 'set-status', requestId, status: v.getUint8(O.status) };
    case VDUSE_UPDATE_IOTLB:
      return {
        type: 'update-iotlb',
        requestId,
        start: v.getBigUint64(O.iova_start, true),
        last: v.getBigUint64(O.iova_last, true),
      };
    default:
      return { type: 'unknown', requestId, rawType };
  }
}

/** Builds a request as the kernel would (reserved and unused payload bytes zero). */
export function encodeDevRequest(req: VduseDevRequest): Uint8Array {
  const out = new Uint8Array(VDUSE_DEV_REQUEST_SIZE);
  const v = viewOf(out);
  v.setUint32(O.request_id, uint(req.requestId, 32, 'vduse_dev_request.request_id'), true);
  switch (req.type) {
    case 'get-vq-state':
      v.setUint32(O.type, VDUSE_GET_VQ_STATE, true);
      v.setUint32(O.vq_state_index, uint(req.index, 32, 'vduse_dev_request.vq_state.index'), true);
      break;
    case 'set-status':
      v.setUint32(O.type, VDUSE_SET_STATUS, true);
      v.setUint8(O.status, uint(req.status, 8, 'vduse_dev_request.s.status'));
      break;
    case 'update-iotlb':
      v.setUint32(O.type, VDUSE_UPDATE_IOTLB, true);
      v.setBigUint64(O.iova_start, u64(req.start, 'vduse_dev_request.iova.start'), true);
      v.setBigUint64(O.iova_last, u64(req.last, 'vduse_dev_request.iova.last'), true);
      break;
    case 'unknown':
      v.setUint32(O.type, uint(req.rawType, 32, 'vduse_dev_request.type'), true);
      break;
  }
  return out;
}
