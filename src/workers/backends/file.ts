/**
 * A backend on an open file or block device: positioned I/O straight between
 * the file and the guest's buffers (preadv/pwritev on libuv's thread pool,
 * no copy through the JS heap), fdatasync for FLUSH, fallocate(2) for
 * discard and write-zeroes. Requests are independent: several may be in
 * flight at once, in any order, as the driver allows (VIRTIO 1.2 §5.2.6:
 * only FLUSH orders anything, and the driver waits for what it flushes).
 */
import * as fs from 'node:fs';
import { native } from '../../shared/native.js';
import type { BlockBackend } from './backend.js';

/** What fallocate(2) is asked to do; FALLOC_FL_KEEP_SIZE is always added (a disk never grows). */
export type FallocateMode = 'punch-hole' | 'zero-range';
/** fallocate(2) on `fd`, throwing an errno error (`code`) on failure. */
export type FallocateFunction = (fd: number, mode: FallocateMode, offset: number, length: number) => void;

export interface FileBackendOptions {
  /** Refuse writes, discards and write-zeroes (EROFS); the blk layer already answers IOERR before that. */
  readonly readOnly?: boolean;
  /**
   * The caller opened the file with O_DSYNC, so every completed write is
   * already durable and FLUSH costs nothing. Nothing changes here: it is
   * recorded for whoever inspects the backend.
   */
  readonly writethrough?: boolean;
  /** Replaces the addon's fallocate (tests use it to make modes fail). */
  readonly fallocate?: FallocateFunction;
}

/** Errors that mean "this fallocate mode is not supported here" (e.g. tmpfs before 6.x has no ZERO_RANGE). */
const UNSUPPORTED_CODES = new Set(['EOPNOTSUPP', 'ENOTSUP', 'EINVAL']);
const ZERO_CHUNK = 1 << 20;
let zeroChunk: Uint8Array | undefined; // shared by every backend of the thread, never written

export class FileBackend implements BlockBackend {
  /** How reads and writes are done: positioned I/O on libuv's thread pool. */
  readonly io = 'threads' as const;
  readonly readOnly: boolean;
  readonly writethrough: boolean;
  private readonly fallocate: FallocateFunction;
  /** Modes that failed as unsupported once: later requests go straight to the fallback. */
  private readonly unsupported = new Set<FallocateMode>();

  /** `fd` stays the caller's: {@link close} leaves it open. */
  constructor(readonly fd: number, readonly size: number, options: FileBackendOptions = {}) {
    this.readOnly = options.readOnly ?? false;
    this.writethrough = options.writethrough ?? false;
    this.fallocate = options.fallocate ?? nativeFallocate;
  }

  readv(offset: number, bufs: readonly Uint8Array[]): void | Promise<void> {
    if (this.checkRange(offset, totalLength(bufs)) === 0) return;
    return new Promise((resolve, reject) => readAll(this.fd, bufs, offset, resolve, reject));
  }

  writev(offset: number, bufs: readonly Uint8Array[]): void | Promise<void> {
    this.checkWritable();
    if (this.checkRange(offset, totalLength(bufs)) === 0) return;
    return new Promise((resolve, reject) => writeAll(this.fd, bufs, offset, resolve, reject));
  }

  flush(): Promise<void> {
    return new Promise((resolve, reject) => fs.fdatasync(this.fd, (err) => (err ? reject(err) : resolve())));
  }

  /**
   * Punches a hole (reads back zeroes). Where holes cannot be punched the
   * discard fails with EOPNOTSUPP (the driver sees UNSUPP) rather than
   * writing zeroes: mkfs discards whole disks.
   */
  discard(offset: number, length: number): void {
    this.checkWritable();
    if (this.checkRange(offset, length) === 0) return;
    if (this.tryFallocate('punch-hole', offset, length)) return;
    throw errnoError('EOPNOTSUPP', 'discard: this file cannot punch holes');
  }

  /**
   * unmap: punch a hole. Otherwise ZERO_RANGE, which keeps the blocks
   * allocated. Fallbacks: a hole, then plain zero writes.
   */
  writeZeroes(offset: number, length: number, unmap: boolean): void | Promise<void> {
    this.checkWritable();
    if (this.checkRange(offset, length) === 0) return;
    if (unmap && this.tryFallocate('punch-hole', offset, length)) return;
    if (this.tryFallocate('zero-range', offset, length)) return;
    if (this.tryFallocate('punch-hole', offset, length)) return;
    return new Promise((resolve, reject) => writeZeroChunks(this.fd, offset, length, resolve, reject));
  }

  /** The fd belongs to the caller. */
  close(): void {}

  /** true when done; false when the mode is unsupported here (remembered). Other errors throw. */
  private tryFallocate(mode: FallocateMode, offset: number, length: number): boolean {
    if (this.unsupported.has(mode)) return false;
    try {
      this.fallocate(this.fd, mode, offset, length);
      return true;
    } catch (error) {
      if (!UNSUPPORTED_CODES.has((error as { code?: string }).code ?? '')) throw error;
      this.unsupported.add(mode);
      return false;
    }
  }

  /** Throws a RangeError unless [offset, +length) is on the disk; returns `length`. */
  checkRange(offset: number, length: number): number {
    if (!(offset >= 0 && length >= 0 && offset + length <= this.size)) {
      throw new RangeError(`range [${offset}, +${length}) is outside the ${this.size}-byte disk`);
    }
    return length;
  }

  /** Throws EROFS on a read-only backend. */
  checkWritable(): void {
    if (this.readOnly) throw errnoError('EROFS', 'the backend is read-only');
  }
}

function nativeFallocate(fd: number, mode: FallocateMode, offset: number, length: number): void {
  const addon = native();
  const { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE } = addon.constants;
  const flag = mode === 'punch-hole' ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE;
  addon.fallocate(fd, flag | FALLOC_FL_KEEP_SIZE, offset, length);
}

type Resolve = () => void;
type Reject = (error: Error) => void;

/** preadv until `bufs` are full; a read at end of file zero-fills the rest (the file is shorter than the disk). */
function readAll(fd: number, bufs: readonly Uint8Array[], position: number, resolve: Resolve, reject: Reject): void {
  fs.readv(fd, firstViews(bufs), position, (err, bytesRead) => {
    if (err) return reject(err);
    const rest = skipBytes(bufs, bytesRead);
    if (rest.length === 0) return resolve();
    if (bytesRead === 0) {
      for (const buf of rest) buf.fill(0);
      return resolve();
    }
    readAll(fd, rest, position + bytesRead, resolve, reject);
  });
}

/** pwritev until every byte of `bufs` is written (short writes happen, e.g. past IOV_MAX views). */
function writeAll(fd: number, bufs: readonly Uint8Array[], position: number, resolve: Resolve, reject: Reject): void {
  fs.writev(fd, firstViews(bufs), position, (err, bytesWritten) => {
    if (err) return reject(err);
    const rest = skipBytes(bufs, bytesWritten);
    if (rest.length === 0) return resolve();
    if (bytesWritten === 0) return reject(errnoError('EIO', 'pwritev wrote nothing'));
    writeAll(fd, rest, position + bytesWritten, resolve, reject);
  });
}

function writeZeroChunks(fd: number, position: number, length: number, resolve: Resolve, reject: Reject): void {
  if (length === 0) return resolve();
  zeroChunk ??= new Uint8Array(ZERO_CHUNK);
  fs.write(fd, zeroChunk, 0, Math.min(length, ZERO_CHUNK), position, (err, written) => {
    if (err) return reject(err);
    if (written === 0) return reject(errnoError('EIO', 'pwrite wrote nothing'));
    writeZeroChunks(fd, position + written, length - written, resolve, reject);
  });
}

/** UIO_MAXIOV: the kernel refuses a readv/writev of more views, so longer requests go in parts. */
export const IOV_MAX = 1024;

/** At most IOV_MAX views: the rest of a longer request goes in a later call, as a short transfer would. */
export function firstViews(bufs: readonly Uint8Array[]): readonly Uint8Array[] {
  return bufs.length <= IOV_MAX ? bufs : bufs.slice(0, IOV_MAX);
}

/** The views after the first `n` bytes (the first of them cut where needed). */
export function skipBytes(bufs: readonly Uint8Array[], n: number): readonly Uint8Array[] {
  let i = 0;
  while (i < bufs.length && n >= bufs[i]!.length) n -= bufs[i++]!.length;
  if (i === bufs.length) return [];
  const rest = bufs.slice(i);
  if (n > 0) rest[0] = rest[0]!.subarray(n);
  return rest;
}

export function totalLength(bufs: readonly Uint8Array[]): number {
  let n = 0;
  for (const buf of bufs) n += buf.length;
  return n;
}

export function errnoError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}
