/**
 * A RAM disk for the 'memfd' backend: one memfd, mapped here for the owner
 * and by each queue worker, so every queue and the owner see the same bytes.
 * Pages are allocated on first write (a fresh disk reads as zeroes).
 */
import { native } from '../shared/native.js';
import { mapRamDisk } from '../shared/ram-mapping.js';
import type { BackendDescriptor } from '../shared/worker-data.js';

export interface MemoryDisk {
  /** The memfd; valid until {@link MemoryDisk.close}. */
  readonly fd: number;
  readonly size: number;
  /** The owner's view of the disk (live: the workers write the same memory). */
  readonly bytes: Uint8Array;
  /** What DeviceServer.create takes as `backend`. */
  readonly descriptor: BackendDescriptor;
  /** Unmaps the owner's view and closes the fd; workers' mappings stay valid until their backends close. */
  close(): void;
}

/** Creates a zero-filled RAM disk of `size` bytes (a positive multiple of 512). */
export function createMemoryDisk(size: number, name = 'vduse-blk-ram'): MemoryDisk {
  if (!Number.isSafeInteger(size) || size <= 0 || size % 512 !== 0) {
    throw new RangeError(`memory disk size ${size} is not a positive multiple of 512`);
  }
  const n = native();
  const fd = n.memfdCreate(name, n.constants.MFD_CLOEXEC);
  let mapping: ArrayBuffer;
  try {
    n.ftruncate(fd, size);
    mapping = mapRamDisk(fd, size);
  } catch (err) {
    n.close(fd);
    throw err;
  }
  let open = true;
  return {
    fd, size, bytes: new Uint8Array(mapping),
    descriptor: { kind: 'memfd', fd, size },
    close() {
      if (!open) return;
      open = false;
      n.munmap(mapping);
      n.close(fd);
    },
  };
}
