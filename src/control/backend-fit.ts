/**
 * Checks, before a device is created, that the backend described holds the
 * whole device: a disk smaller than the device would fail requests near the
 * end (or, for a shared mapping past a file's end, raise SIGBUS), and the
 * driver would only find out at I/O time.
 */
import { fstatSync } from 'node:fs';
import { BackendError } from '../shared/errors.js';
import type { BackendDescriptor } from '../shared/worker-data.js';
import { fileIoMode } from '../shared/file-io.js';

/**
 * Throws {@link BackendError} when `backend` is known to be smaller than
 * `deviceSize` bytes, or, for a file, when VDUSE_BLK_IO names no I/O mode.
 */
export function checkBackendFits(backend: BackendDescriptor, deviceSize: number): void {
  let size: number;
  let what: string;
  switch (backend.kind) {
    case 'file':
      checkFileIo();
      size = backend.size;
      what = `file backend (fd ${backend.fd})`;
      break;
    case 'memory': size = backend.buffer.byteLength; what = 'memory backend (SharedArrayBuffer)'; break;
    case 'memfd': {
      let fileSize: number;
      try {
        fileSize = fstatSync(backend.fd).size;
      } catch (err) {
        throw new BackendError(`memfd backend: fd ${backend.fd} is not open (${(err as Error).message})`, { cause: err });
      }
      size = Math.min(backend.size, fileSize);
      what = `memfd backend (fd ${backend.fd}, ${fileSize} bytes, descriptor size ${backend.size})`;
      break;
    }
    default: return; // a module backend reports its size once opened
  }
  if (size < deviceSize) {
    throw new BackendError(`${what} holds ${size} bytes, less than the ${deviceSize}-byte device`);
  }
}

/** VDUSE_BLK_IO is read by every queue worker: a bad value is refused here, before the device exists. */
function checkFileIo(): void {
  try {
    fileIoMode(process.env['VDUSE_BLK_IO']);
  } catch (err) {
    throw new BackendError((err as Error).message, { cause: err });
  }
}
