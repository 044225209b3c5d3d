/**
 * A RAM disk over a SharedArrayBuffer: every queue worker gets the same
 * buffer, so they all see one disk. Synchronous: no promise per request.
 */
import type { BlockBackend } from './backend.js';

export class MemoryBackend implements BlockBackend {
  readonly size: number;
  private readonly disk: Uint8Array;

  /** The disk is `buffer`, whole: its size is the buffer's length. */
  constructor(buffer: SharedArrayBuffer) {
    this.disk = new Uint8Array(buffer);
    this.size = buffer.byteLength;
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

  /** A SharedArrayBuffer cannot be deallocated piecewise: `unmap` changes nothing. */
  writeZeroes(offset: number, length: number, _unmap?: boolean): void {
    this.check(offset, length);
    this.disk.fill(0, offset, offset + length);
  }

  /** The buffer belongs to whoever created it. */
  close(): void {}

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
