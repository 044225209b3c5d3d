/**
 * The 8-byte `__u64` argument of VDUSE_GET_API_VERSION, VDUSE_SET_API_VERSION
 * and VDUSE_DEV_GET_FEATURES (reference §1.2): the ioctl takes a pointer to
 * it, so it travels as bytes like every other struct.
 */
import { requireLength, u64, viewOf } from './bytes.js';

export const U64_ARG_SIZE = 8;

export function encodeU64Arg(value: bigint): Uint8Array {
  const out = new Uint8Array(U64_ARG_SIZE);
  viewOf(out).setBigUint64(0, u64(value, 'u64 ioctl argument'), true);
  return out;
}

export function decodeU64Arg(bytes: Uint8Array): bigint {
  requireLength(bytes, U64_ARG_SIZE, 'u64 ioctl argument');
  return viewOf(bytes).getBigUint64(0, true);
}
