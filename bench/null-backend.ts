/**
 * A backend that completes every request without touching data: the
 * benchmark's ceiling (what the harness and the queue machinery cost alone).
 */
import type { BlockBackend } from '../src/workers/backends/backend.js';

export function createBackend(options: { size: number }): BlockBackend {
  return {
    size: options.size,
    readv() {},
    writev() {},
    flush() {},
    discard() {},
    writeZeroes() {},
    close() {},
  };
}
