/**
 * A module backend (for `{ kind: 'module' }` descriptors) whose reads are
 * synchronous and slow: each blocks its queue's thread for `delayMs`, and
 * counts itself in `calls[0]` (a SharedArrayBuffer the test also reads),
 * so a test can tell how far the device had got when a completion arrived.
 */
import type { BlockBackend } from '../../src/workers/backends/backend.js';

export interface SlowSyncOptions {
  size: number;
  delayMs: number;
  calls: SharedArrayBuffer;
}

export function createBackend(options: SlowSyncOptions): BlockBackend {
  const calls = new Int32Array(options.calls);
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  return {
    size: options.size,
    readv(_offset, bufs) {
      Atomics.wait(sleeper, 0, 0, options.delayMs); // blocks this queue's thread, as a long copy would
      for (const buf of bufs) buf.fill(0x5a);
      Atomics.add(calls, 0, 1);
    },
    writev() {},
    flush() {},
    discard() {},
    writeZeroes() {},
    close() {},
  };
}
