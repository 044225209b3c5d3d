/**
 * The backend of a queue whose own backend could not be opened once the
 * driver was ready (DeviceServer.create's probe covers the usual causes
 * earlier): every request fails with the open error (IOERR), so the driver
 * is answered instead of waiting forever for a queue nobody serves.
 */
import type { BlockBackend } from './backend.js';

export class FailingBackend implements BlockBackend {
  constructor(readonly size: number, readonly error: Error) {}

  readv(): never { throw this.error; }
  writev(): never { throw this.error; }
  flush(): never { throw this.error; }
  discard(): never { throw this.error; }
  writeZeroes(): never { throw this.error; }
  close(): void {}
}
