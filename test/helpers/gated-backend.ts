/**
 * A module backend for tests that need a request held in the middle of a
 * drain: a synchronous RAM disk whose read at `options.offset` blocks its
 * queue thread until the test opens the gate.
 *
 * `options.gate` is an Int32Array's SharedArrayBuffer: word 0 is the gate
 * (0 closed, 1 open), word 1 becomes 1 once the held read has started.
 */
import type { BlockBackend } from '../../src/workers/backends/backend.js';
import { MemoryBackend } from '../../src/workers/backends/memory.js';

export interface GateOptions { size: number; offset: number; gate: SharedArrayBuffer }

/** Longest a held read waits for its gate: a test that forgets it fails instead of hanging. */
const HOLD_MS = 30_000;

export function gated(options: GateOptions): BlockBackend {
  const disk = new MemoryBackend(new SharedArrayBuffer(options.size));
  const gate = new Int32Array(options.gate);
  return {
    size: disk.size,
    readv(offset, bufs) {
      if (offset === options.offset) {
        Atomics.store(gate, 1, 1);
        Atomics.wait(gate, 0, 0, HOLD_MS);
      }
      disk.readv(offset, bufs);
    },
    writev: (offset, bufs) => disk.writev(offset, bufs),
    flush: () => disk.flush(),
    discard: (offset, length) => disk.discard(offset, length),
    writeZeroes: (offset, length, unmap) => disk.writeZeroes(offset, length, unmap),
    close: () => disk.close(),
  };
}
