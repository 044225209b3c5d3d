/**
 * The 256-byte device name buffer (`char name[VDUSE_NAME_MAX]`): the first
 * field of vduse_dev_config and the whole argument of VDUSE_DESTROY_DEV.
 * The kernel always copies all 256 bytes and forces name[255] = 0, so a
 * longer name would be silently truncated and then fail to match; we refuse
 * it instead (reference §1.3, §1.4).
 */
import { VDUSE_NAME_MAX } from '../vduse.js';

/** Size of the VDUSE_DESTROY_DEV argument and of vduse_dev_config.name. */
export const VDUSE_NAME_BUFFER_SIZE = VDUSE_NAME_MAX;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * The UTF-8 bytes of a device name (no terminator), after checking what the
 * kernel would otherwise reject or mangle: empty (EINVAL since 6.4 and its
 * backports), longer than 255 bytes (truncated), or holding a NUL (the kernel
 * stops there). Character policy (e.g. `[A-Za-z0-9._-]`) belongs to callers.
 */
export function deviceNameBytes(name: string): Uint8Array {
  if (typeof name !== 'string' || name.length === 0) {
    throw new RangeError('device name: must not be empty');
  }
  if (name.includes('\0')) {
    throw new RangeError('device name: must not contain a NUL character');
  }
  const bytes = encoder.encode(name);
  if (bytes.byteLength > VDUSE_NAME_MAX - 1) {
    throw new RangeError(
      `device name: ${bytes.byteLength} bytes, at most ${VDUSE_NAME_MAX - 1} fit (VDUSE_NAME_MAX with its NUL)`,
    );
  }
  return bytes;
}

/** Writes `name` NUL-terminated and NUL-padded into `out[offset, offset + 256)`. */
export function writeDeviceName(out: Uint8Array, offset: number, name: string): void {
  const bytes = deviceNameBytes(name);
  out.fill(0, offset, offset + VDUSE_NAME_MAX);
  out.set(bytes, offset);
}

/** Reads a NUL-terminated name from `bytes[offset, offset + 256)`, as the kernel does (name[255] forced to 0). */
export function readDeviceName(bytes: Uint8Array, offset: number): string {
  const field = bytes.subarray(offset, offset + VDUSE_NAME_MAX - 1);
  const nul = field.indexOf(0);
  return decoder.decode(nul === -1 ? field : field.subarray(0, nul));
}

/** The 256-byte argument of VDUSE_DESTROY_DEV. */
export function encodeDestroyDevName(name: string): Uint8Array {
  const out = new Uint8Array(VDUSE_NAME_BUFFER_SIZE);
  writeDeviceName(out, 0, name);
  return out;
}

/** The name in a VDUSE_DESTROY_DEV argument (for the simulated kernel). */
export function decodeDestroyDevName(bytes: Uint8Array): string {
  if (bytes.byteLength !== VDUSE_NAME_BUFFER_SIZE) {
    throw new RangeError(`VDUSE_DESTROY_DEV name: expected ${VDUSE_NAME_BUFFER_SIZE} bytes, got ${bytes.byteLength}`);
  }
  return readDeviceName(bytes, 0);
}
