/**
 * A block backend: the storage behind the device. Offsets and lengths are in
 * bytes and always multiples of 512 (the blk layer checks requests before a
 * backend sees them). Methods may complete synchronously (return nothing) or
 * asynchronously (return a promise); a synchronous one avoids a promise per
 * request on the hot path. A failure is reported by throwing or rejecting;
 * the blk layer turns it into VIRTIO_BLK_S_IOERR.
 *
 * Buffers are views straight into guest memory: a backend must not keep them
 * after its call completes (the mapping may go away after that).
 */
export interface BlockBackend {
  /** Capacity in bytes. */
  readonly size: number;
  /** Fills `bufs`, in order, from [offset, offset + total length). */
  readv(offset: number, bufs: readonly Uint8Array[]): void | PromiseLike<void>;
  /** Writes `bufs`, in order, to [offset, offset + total length). */
  writev(offset: number, bufs: readonly Uint8Array[]): void | PromiseLike<void>;
  /** Makes every completed write durable. */
  flush(): void | PromiseLike<void>;
  /** Deallocates a range; its content becomes unspecified (zeroes for our backends). */
  discard(offset: number, length: number): void | PromiseLike<void>;
  /** Zeroes a range; `unmap` allows deallocating it while doing so. */
  writeZeroes(offset: number, length: number, unmap: boolean): void | PromiseLike<void>;
  /** Releases what the backend holds. Called once, after the last request completed. */
  close(): void | PromiseLike<void>;
}
