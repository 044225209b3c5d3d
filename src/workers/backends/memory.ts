/**
 * A RAM disk shared by every queue worker. Synchronous: no promise per
 * request. Two kinds of memory behind it:
 * - a shared-memory fd (a memfd from createMemoryDisk), mapped MAP_SHARED by
 *   each worker as an external ArrayBuffer: copies to and from guest memory
 *   are plain memcpy;
 * - a SharedArrayBuffer: simpler to hand around, but V8 copies shared memory
 *   with relaxed atomics, about 1.6x slower for a random 4 KiB read (446 vs
 *   271 ns measured on the benchmark host).
 */
import type { BlockBackend } from './backend.js';
import { fstatSync } from 'node:fs';
import { native } from '../../shared/native.js';
import { mapRamDisk } from '../../shared/ram-mapping.js';

export class MemoryBackend implements BlockBackend {
  readonly size: number;
  private readonly disk: Uint8Array;
  private mapping: ArrayBuffer | null = null;

  /** The disk is `buffer`, whole: its size is the buffer's length. */
  constructor(buffer: SharedArrayBuffer | Uint8Array) {
    this.disk = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
    this.size = this.disk.length;
  }

  /**
   * Maps the first `size` bytes of the shared-memory file `fd` (the owner
   * keeps `fd`; the mapping holds its own reference to the memory).
   */
  static mapFd(fd: number, size: number): MemoryBackend {
    // Touching a MAP_SHARED page past the file's end raises SIGBUS, which
    // would kill the process: refuse a disk larger than its file up front.
    const fileSize = fstatSync(fd).size;
    if (!Number.isSafeInteger(size) || size <= 0 || size > fileSize) {
      throw new RangeError(`memory disk of ${size} bytes does not fit its fd ${fd} (${fileSize} bytes)`);
    }
    const mapping = mapRamDisk(fd, size);
    const backend = new MemoryBackend(new Uint8Array(mapping));
    backend.mapping = mapping;
    return backend;
  }

  readv(offset: number, bufs: readonly Uint8Array[]): void {
    this.check(offset, totalLength(bufs));
    let pos = offset;
    for (const buf of bufs) {
      buf.set(this.disk.subarray(pos, pos + buf.length));
      pos += buf.length;
    }
  }

  writev(offset: number, bufs: readonly Uint8Array[]): void {
    this.check(offset, totalLength(bufs));
    let pos = offset;
    for (const buf of bufs) {
      this.disk.set(buf, pos);
      pos += buf.length;
    }
  }

  /** Memory has no cache to write back. */
  flush(): void {}

  /** Discarded memory reads back as zeroes (the backend contract promises it). */
  discard(offset: number, length: number): void {
    this.writeZeroes(offset, length, true);
  }

  /** Shared memory is not deallocated piecewise here: `unmap` changes nothing. */
  writeZeroes(offset: number, length: number, _unmap?: boolean): void {
    this.check(offset, length);
    this.disk.fill(0, offset, offset + length);
  }

  /** Unmaps this worker's mapping of an fd disk; the memory belongs to whoever created it. */
  close(): void {
    if (this.mapping !== null) native().munmap(this.mapping);
    this.mapping = null;
  }

  private check(offset: number, length: number): void {
    if (!(offset >= 0 && length >= 0 && offset + length <= this.size)) {
      throw new RangeError(`range [${offset}, +${length}) is outside the ${this.size}-byte disk`);
    }
  }
}

function totalLength(bufs: readonly Uint8Array[]): number {
  let n = 0;
  for (const buf of bufs) n += buf.length;
  return n;
}
