/**
 * The file backend for files that live in memory (tmpfs, ramfs, hugetlbfs):
 * preadv/pwritev straight on the queue's worker thread, completing every
 * request inside the drain that popped it.
 *
 * On such a file a read or write is a page-cache copy that never waits for a
 * disk, so handing it to another thread only adds a wake-up and a thread hop:
 * libuv's pool costs both, and io_uring does too, because tmpfs has no
 * non-blocking reads (no FMODE_NOWAIT) and io_uring punts every request to an
 * io-wq thread. Measured in the TCG guest on a tmpfs image (one queue, fio
 * libaio direct): 4k randread QD1 and QD32 and 128k reads, see the commit.
 *
 * Requests larger than `poolAbove` bytes (64 KiB by default) go elsewhere:
 * their copy is long enough that running it beside the queue's thread,
 * several at a time, beats the hop. Reads go to `bulkReads` when given (an
 * io_uring backend: io-wq does the copy, with less per-request work in this
 * thread than libuv's pool; guest, 128k reads QD8: ~1625 against ~1450 IOPS),
 * writes to libuv's pool (io-wq would run them one at a time).
 *
 * Not for files on disks: a cache miss would stall every request of the
 * queue behind it. openFileBackend only picks it for memory file systems.
 */
import * as fs from 'node:fs';
import { native, type NativeAddon } from '../../shared/native.js';
import type { BlockBackend } from './backend.js';
import { Segments } from './segments.js';
import { FileBackend, errnoError, skipBytes, totalLength, type FileBackendOptions } from './file.js';

/** Default for {@link SyncFileBackendOptions.poolAbove}. */
export const SYNC_POOL_ABOVE = 64 * 1024;

export interface SyncFileBackendOptions extends FileBackendOptions {
  /** Reads and writes of more bytes than this leave the queue's thread (default 64 KiB; Infinity: never). */
  readonly poolAbove?: number;
  /**
   * Takes the reads above `poolAbove` instead of libuv's pool; closed with
   * this backend. It must check ranges as a FileBackend of the same file and
   * size does (a UringFileBackend does): they are not checked again here.
   */
  readonly bulkReads?: BlockBackend & { readonly io: string };
}

export class SyncFileBackend implements BlockBackend {
  readonly io = 'sync' as const;
  readonly size: number;
  /** Range and read-only checks, discard, write-zeroes. */
  private readonly file: FileBackend;
  private readonly poolAbove: number;
  private readonly bulkReads: BlockBackend;
  /** How reads above poolAbove are done: 'uring' or 'threads'. */
  readonly bulkIo: string;
  private readonly addon: NativeAddon = native();
  /** The iovecs of the call being made (the kernel is done with them when it returns). */
  private readonly segments = new Segments();

  /** `fd` stays the caller's. */
  constructor(readonly fd: number, size: number, options: SyncFileBackendOptions = {}) {
    this.file = new FileBackend(fd, size, options);
    this.size = size;
    this.poolAbove = options.poolAbove ?? SYNC_POOL_ABOVE;
    this.bulkReads = options.bulkReads ?? this.file;
    this.bulkIo = options.bulkReads?.io ?? this.file.io;
  }

  get readOnly(): boolean { return this.file.readOnly; }
  get writethrough(): boolean { return this.file.writethrough; }

  /** preadv until `bufs` are full; end of file reads as zeroes (the file is shorter than the disk). */
  readv(offset: number, bufs: readonly Uint8Array[]): void | PromiseLike<void> {
    const length = totalLength(bufs);
    // bulkReads checks the range itself (one walk over a large read's views, not two).
    if (length > this.poolAbove) return this.bulkReads.readv(offset, bufs);
    if (this.file.checkRange(offset, length) === 0) return;
    this.moveAll(false, bufs, length, offset, (rest) => {
      for (const buf of rest) buf.fill(0);
    });
  }

  /** pwritev until every byte is written. */
  writev(offset: number, bufs: readonly Uint8Array[]): void | PromiseLike<void> {
    const length = totalLength(bufs);
    if (length > this.poolAbove) return this.file.writev(offset, bufs); // checks as below
    this.file.checkWritable();
    if (this.file.checkRange(offset, length) === 0) return;
    this.moveAll(true, bufs, length, offset, () => {
      throw errnoError('EIO', 'pwritev wrote nothing');
    });
  }

  /** fdatasync: nothing to write back on a memory filesystem, so it returns at once. */
  flush(): void {
    fs.fdatasyncSync(this.fd);
  }

  discard(offset: number, length: number): void | Promise<void> {
    return this.file.discard(offset, length);
  }

  writeZeroes(offset: number, length: number, unmap: boolean): void | Promise<void> {
    return this.file.writeZeroes(offset, length, unmap);
  }

  /** Closes `bulkReads`; the fd belongs to the caller. */
  close(): void | PromiseLike<void> {
    if (this.bulkReads !== this.file) return this.bulkReads.close();
  }

  /**
   * preadv or pwritev (at most IOV_MAX views a call, one addon call each)
   * until all `length` bytes of `bufs` have moved; `stalled` gets what is
   * left when a call moves nothing (end of file for a read).
   */
  private moveAll(
    write: boolean, bufs: readonly Uint8Array[], length: number, offset: number,
    stalled: (rest: readonly Uint8Array[]) => void,
  ): void {
    const { addon, fd } = this;
    for (let rest = bufs, left = length, at = offset; ;) {
      const s = this.segments.fill(rest);
      const n = write ? addon.pwritev(fd, s.basesArg, s.triples, s.count, at) : addon.preadv(fd, s.basesArg, s.triples, s.count, at);
      // The whole transfer, the usual case: no walk over the views.
      if (n >= left) return;
      if (n === 0) return stalled(rest);
      rest = skipBytes(rest, n);
      left -= n;
      at += n;
    }
  }
}
