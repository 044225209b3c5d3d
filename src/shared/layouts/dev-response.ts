/**
 * struct vduse_dev_response: one reply per write() to /dev/vduse/NAME,
 * 152 bytes (reference §1.3, §1.6). The kernel rejects a reply whose
 * reserved[4] is non-zero with EINVAL, so the encoder always zeroes it.
 */
import { requireLength, uint, viewOf, isZero } from './bytes.js';

export const VDUSE_DEV_RESPONSE_SIZE = 152;

/** Field offsets, named as in include/uapi/linux/vduse.h. */
export const VDUSE_DEV_RESPONSE_OFFSETS = {
  request_id: 0,
  result: 4,
  /** u32 reserved[4], must be zero */
  reserved: 8,
  /** union: vq_state | padding[32] */
  payload: 24,
  vq_state_index: 24,
  /** vq_state.split.avail_index (u16); packed rings would use 28/30/32/34 */
  vq_state_avail_index: 28,
} as const;

const O = VDUSE_DEV_RESPONSE_OFFSETS;

/** Split-ring state returned for VDUSE_GET_VQ_STATE. */
export interface VduseVqStateSplit {
  index: number;
  availIndex: number;
}

export interface VduseDevResponse {
  /** Copied from the request. */
  requestId: number;
  /** VDUSE_REQ_RESULT_OK (0) or VDUSE_REQ_RESULT_FAILED (1). */
  result: number;
  /** Only for GET_VQ_STATE replies. */
  vqState?: VduseVqStateSplit;
}

export interface DecodedVduseDevResponse {
  requestId: number;
  result: number;
  /** Always read; meaningful only when answering GET_VQ_STATE. */
  vqState: VduseVqStateSplit;
  /** False when reserved[4] is non-zero: the kernel answers EINVAL. */
  reservedIsZero: boolean;
}

export function encodeDevResponse(res: VduseDevResponse): Uint8Array {
  const out = new Uint8Array(VDUSE_DEV_RESPONSE_SIZE);
  const v = viewOf(out);
  v.setUint32(O.request_id, uint(res.requestId, 32, 'vduse_dev_response.request_id'), true);
  v.setUint32(O.result, uint(res.result, 32, 'vduse_dev_response.result'), true);
  if (res.vqState !== undefined) {
    v.setUint32(O.vq_state_index, uint(res.vqState.index, 32, 'vduse_dev_response.vq_state.index'), true);
    v.setUint16(
      O.vq_state_avail_index,
      uint(res.vqState.availIndex, 16, 'vduse_dev_response.vq_state.split.avail_index'),
      true,
    );
  }
  return out;
}

/** Reads a reply as the simulated kernel receives it from write(). */
export function decodeDevResponse(bytes: Uint8Array): DecodedVduseDevResponse {
  requireLength(bytes, VDUSE_DEV_RESPONSE_SIZE, 'vduse_dev_response');
  const v = viewOf(bytes);
  return {
    requestId: v.getUint32(O.request_id, true),
    result: v.getUint32(O.result, true),
    vqState: {
      index: v.getUint32(O.vq_state_index, true),
      availIndex: v.getUint16(O.vq_state_avail_index, true),
    },
    reservedIsZero: isZero(bytes, O.reserved, O.payload),
  };
}
