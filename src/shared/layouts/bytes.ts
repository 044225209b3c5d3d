/**
 * Range checks and views shared by the struct layouts. Every encoder checks
 * its numbers first because DataView setters silently wrap out-of-range
 * values (ToUint32), and a wrapped vq index or size is a bug that the kernel
 * would only report as a bare EINVAL.
 */

/** A DataView over exactly the bytes of `bytes` (callers pass `true`: every field is little-endian). */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Throws unless `bytes` is exactly `size` bytes long. */
export function requireLength(bytes: Uint8Array, size: number, struct: string): void {
  if (bytes.byteLength !== size) {
    throw new RangeError(`${struct}: expected ${size} bytes, got ${bytes.byteLength}`);
  }
}

/** Throws unless `bytes` holds at least `size` bytes. */
export function requireAtLeast(bytes: Uint8Array, size: number, struct: string): void {
  if (bytes.byteLength < size) {
    throw new RangeError(`${struct}: expected at least ${size} bytes, got ${bytes.byteLength}`);
  }
}

/** `value` as an unsigned integer of `bits` bits (8, 16 or 32), or a RangeError naming `field`. */
export function uint(value: number, bits: 8 | 16 | 32, field: string): number {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** bits) {
    throw new RangeError(`${field}: ${value} is not a u${bits}`);
  }
  return value;
}

/** `value` as a signed 32-bit integer (file descriptors), or a RangeError naming `field`. */
export function int32(value: number, field: string): number {
  if (!Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 31) {
    throw new RangeError(`${field}: ${value} is not an s32`);
  }
  return value;
}

const U64_LIMIT = 1n << 64n;

/** `value` as a u64, or a RangeError naming `field`. */
export function u64(value: bigint, field: string): bigint {
  if (typeof value !== 'bigint' || value < 0n || value >= U64_LIMIT) {
    throw new RangeError(`${field}: ${String(value)} is not a u64`);
  }
  return value;
}

/** Whether every byte in `bytes[start, end)` is zero (reserved fields the kernel insists on). */
export function isZero(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i] !== 0) return false;
  return true;
}
