/**
 * A module backend for tests of batched completion: a RAM disk whose reads
 * return a Completion (backends/completion.ts) and are served together, as
 * an io_uring reap serves a CQ: once `options.batch` reads are pending, one
 * timer callback does them all and settles them, then queues a microtask
 * that holds this thread (Atomics.wait on the gate) until the test opens it.
 * A queue that publishes a reaped batch as soon as the callback that reaped
 * it is over (its own microtask, queued at the first settle) reaches the
 * driver while the thread is held; one that waits for a later event-loop
 * callback (a setImmediate) does not. Nothing else can run in between: no
 * kick is taken between a callback and its microtasks.
 *
 * Byte i of the disk holds (i * 7 + 3) & 0xff.
 *
 * `options.gate` is an Int32Array's SharedArrayBuffer: word 0 is the gate
 * (0 closed, 1 open), word 1 becomes 1 once the hold has started.
 */
import type { BlockBackend } from '../../src/workers/backends/backend.js';
import { Completion } from '../../src/workers/backends/completion.js';
import { MemoryBackend } from '../../src/workers/backends/memory.js';

export interface BatchOptions { size: number; batch: number; gate: SharedArrayBuffer }

/** Longest the hold lasts: a test that forgets the gate fails instead of hanging. */
const HOLD_MS = 30_000;

export function batched(options: BatchOptions): BlockBackend {
  const bytes = new SharedArrayBuffer(options.size);
  const view = new Uint8Array(bytes);
  for (let i = 0; i < view.length; i++) view[i] = (i * 7 + 3) & 0xff;
  const disk = new MemoryBackend(bytes);
  const gate = new Int32Array(options.gate);
  let pending: Array<() => void> = [];
  const serveBatch = (): void => {
    const batch = pending;
    pending = [];
    for (const serve of batch) serve();
    queueMicrotask(() => {
      Atomics.store(gate, 1, 1);
      Atomics.wait(gate, 0, 0, HOLD_MS);
    });
  };
  return {
    size: disk.size,
    readv(offset, bufs) {
      const c = new Completion();
      pending.push(() => {
        disk.readv(offset, bufs);
        c.settle(null);
      });
      if (pending.length === options.batch) setTimeout(serveBatch, 1);
      return c;
    },
    writev: (offset, bufs) => disk.writev(offset, bufs),
    flush: () => disk.flush(),
    discard: (offset, length) => disk.discard(offset, length),
    writeZeroes: (offset, length, unmap) => disk.writeZeroes(offset, length, unmap),
    close: () => disk.close(),
  };
}
