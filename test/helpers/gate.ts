/**
 * A gate shared with a backend in a queue worker (gated-backend.ts,
 * batch-backend.ts): word 0 is the gate (0 closed, 1 open), word 1 becomes
 * 1 once the backend holds its thread on it.
 */
import type { BlkCompletion } from '../../src/loopback/blk-driver.js';
import type { Fixture } from './loopback-fixture.js';

export class Gate {
  private readonly words = new Int32Array(new SharedArrayBuffer(8));

  /** For the backend's options. */
  get buffer(): SharedArrayBuffer {
    return this.words.buffer as SharedArrayBuffer;
  }

  /** Whether the backend has started holding its thread. */
  get holding(): boolean {
    return Atomics.load(this.words, 1) === 1;
  }

  get isOpen(): boolean {
    return Atomics.load(this.words, 0) === 1;
  }

  /** Lets the held thread go (and any later hold pass at once). */
  open(): void {
    Atomics.store(this.words, 0, 1);
    Atomics.notify(this.words, 0);
  }
}

/** `count` 4 KiB reads on queue 0, read i at block i * stride; `done[i]` turns true as read i completes. */
export function trackedReads(f: Fixture, count: number, stride = 1): { done: boolean[]; reads: Promise<BlkCompletion>[] } {
  const done = new Array<boolean>(count).fill(false);
  const reads = Array.from({ length: count }, (_, i) =>
    f.driver.read(0, (i * stride * 4096) / 512, 4096).then((c) => ((done[i] = true), c)));
  return { done, reads };
}
