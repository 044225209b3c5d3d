/**
 * The file backend over io_uring, one ring per queue worker: reads, writes
 * and FLUSH go to the kernel as SQEs straight from the guest's buffers, with
 * no libuv thread-pool hop. Each request is submitted at once and the CQ is
 * reaped right after: a buffered read or write that the page cache can serve
 * completes inside io_uring_enter, so the request completes synchronously
 * (no promise, no thread, same drain pass). The rest complete later; the
 * ring's eventfd, watched on this thread's event loop, says when, and each
 * settles its {@link Completion} as its CQE is reaped (a PromiseLike whose
 * listener the queue loop calls back with no promise in between).
 *
 * Buffered writes to a regular file go to libuv's thread pool instead:
 * io_uring has no non-blocking buffered write on ext4, so it punts each one
 * to io-wq, which runs the writes to one regular file one at a time (it
 * hashes them by inode). Measured on ext4, loopback 4k randwrite QD32: about
 * 90k IOPS through io-wq against about 200k through the pool.
 *
 * Discard and write-zeroes are a FileBackend's (fallocate with its
 * fallbacks): they are synchronous already, or rare.
 */
import * as fs from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { native, type FdWatcher, type IoUring } from '../../shared/native.js';
import type { BlockBackend } from './backend.js';
import { Completion } from './completion.js';
import { Segments } from './segments.js';
import { FileBackend, errnoError, skipBytes, totalLength, type FileBackendOptions } from './file.js';

/** SQ entries; the CQ has twice as many, the most operations in flight before requests wait here. */
const RING_ENTRIES = 256;
/** Completions taken per reap call. */
const REAP_BATCH = 64;
/** io_uring_enter failures worth another try on the next turn of the event loop. */
const TRANSIENT = new Set(['EAGAIN', 'EBUSY', 'ENOMEM', 'EINTR']);

const READ = 0;
const WRITE = 1;
const FSYNC = 2;
type Kind = typeof READ | typeof WRITE | typeof FSYNC;

/** One backend call in flight: possibly several SQEs in turn (short transfers, more than IOV_MAX views). */
interface Op {
  readonly id: number;
  readonly kind: Kind;
  bufs: readonly Uint8Array[];
  /** Bytes of `bufs` (left to transfer). */
  length: number;
  position: number;
  /** Set on completion while the call that started it is still on the stack (no Completion yet). */
  done: boolean;
  /** Handed to the thread pool after a fail-over. */
  redone: boolean;
  error: Error | null;
  /** What run() returned when the op did not complete inline. */
  completion: Completion | null;
}

export interface UringFileBackendOptions extends FileBackendOptions {
  /**
   * Where writes go: 'threads' (libuv's pool) or 'uring'. Default: 'threads'
   * for a regular file (see above), 'uring' for anything else (a block
   * device, whose writes io-wq runs in parallel).
   */
  readonly writes?: 'threads' | 'uring';
}

export class UringFileBackend implements BlockBackend {
  readonly io = 'uring' as const;
  /** Where writes go (reads and FLUSH always go to the ring). */
  readonly writeIo: 'threads' | 'uring';
  readonly size: number;
  /** Range and read-only checks, discard, write-zeroes. */
  private readonly file: FileBackend;
  private ring: IoUring | null;
  private readonly watcher: FdWatcher;
  private readonly eventfd: number;
  private readonly capacity: number;
  private readonly sqEntries: number;
  private readonly cqes = new Float64Array(2 * REAP_BATCH);
  private readonly eventfdValue = new Uint8Array(8);
  /** The iovecs of the op being prepared (the ring copies them). */
  private readonly segments = new Segments();
  /** In-flight ops by id (the SQE's userData); `freeIds` are the holes. */
  private readonly ops: Array<Op | undefined> = [];
  private readonly freeIds: number[] = [];
  /** Ops waiting for room in the ring, oldest first. */
  private readonly backlog: Op[] = [];
  /** SQEs in the ring and not yet reaped; prepared and not yet submitted. */
  private inRing = 0;
  private prepared = 0;
  private watching = false;
  private retryScheduled = false;
  /** Why the ring was given up, once it was (for whoever inspects the backend). */
  failedOver: Error | null = null;

  /**
   * `fd` stays the caller's. Throws as {@link NativeAddon.ioUringCreate}
   * does (ENOSYS, EPERM, EACCES where io_uring is missing or forbidden).
   */
  constructor(readonly fd: number, size: number, options: UringFileBackendOptions = {}) {
    const addon = native();
    if (typeof addon.ioUringCreate !== 'function') {
      throw errnoError('ENOSYS', 'the native addon was built without io_uring (rebuild it)');
    }
    this.file = new FileBackend(fd, size, options);
    this.size = size;
    this.writeIo = options.writes ?? (fs.fstatSync(fd).isFile() ? 'threads' : 'uring');
    const ring = addon.ioUringCreate(RING_ENTRIES);
    try {
      this.eventfd = ring.eventfd();
      this.watcher = addon.watch(this.eventfd, addon.constants.UV_READABLE, () => this.onEventfd());
    } catch (error) {
      ring.close();
      throw error;
    }
    // Only in-flight I/O keeps the event loop alive (see settleWatcher).
    this.watcher.unref();
    this.ring = ring;
    this.capacity = ring.cqEntries;
    this.sqEntries = ring.sqEntries;
  }

  get readOnly(): boolean { return this.file.readOnly; }
  get writethrough(): boolean { return this.file.writethrough; }

  readv(offset: number, bufs: readonly Uint8Array[]): void | PromiseLike<void> {
    const length = this.file.checkRange(offset, totalLength(bufs));
    if (length === 0) return;
    if (this.ring === null) return this.file.readv(offset, bufs);
    return this.run(READ, bufs, length, offset);
  }

  writev(offset: number, bufs: readonly Uint8Array[]): void | PromiseLike<void> {
    this.file.checkWritable();
    const length = this.file.checkRange(offset, totalLength(bufs));
    if (length === 0) return;
    if (this.ring === null || this.writeIo === 'threads') return this.file.writev(offset, bufs);
    return this.run(WRITE, bufs, length, offset);
  }

  /** fdatasync as an SQE (it always completes on an io-wq thread, never inline). */
  flush(): void | PromiseLike<void> {
    if (this.ring === null) return this.file.flush();
    return this.run(FSYNC, [], 0, 0);
  }

  discard(offset: number, length: number): void | Promise<void> {
    return this.file.discard(offset, length);
  }

  writeZeroes(offset: number, length: number, unmap: boolean): void | Promise<void> {
    return this.file.writeZeroes(offset, length, unmap);
  }

  /** Called after the last request completed; the fd stays open (it is the caller's). */
  close(): void {
    this.watcher.close();
    const ring = this.ring;
    this.ring = null;
    // Waits for anything still submitted (the kernel may be writing into its buffers).
    ring?.close();
    this.failAll(errnoError('ECANCELED', 'the backend was closed with I/O in flight'));
    this.file.close();
  }

  /** Starts an op; returns nothing when it completed inline, else its Completion. */
  private run(kind: Kind, bufs: readonly Uint8Array[], length: number, position: number): void | Completion {
    const op = this.newOp(kind, bufs, length, position);
    this.enqueue(op);
    this.pump();
    if (op.done) {
      if (op.error !== null) throw op.error;
      return;
    }
    return (op.completion = new Completion());
  }

  private newOp(kind: Kind, bufs: readonly Uint8Array[], length: number, position: number): Op {
    const id = this.freeIds.pop() ?? this.ops.length;
    const op: Op = { id, kind, bufs, length, position, done: false, redone: false, error: null, completion: null };
    this.ops[id] = op;
    return op;
  }

  /** Prepares the op's next SQE, or queues the op while the ring has no room. */
  private enqueue(op: Op): void {
    const ring = this.ring;
    if (ring === null) return this.redo(op); // failed over
    if (this.inRing >= this.capacity) {
      this.backlog.push(op);
      return;
    }
    if (this.prepared >= this.sqEntries && !this.submit(ring)) {
      if (this.ring === null) return this.redo(op); // failed over just now
      this.backlog.push(op); // the SQ is full and cannot be emptied now: wait for the retry
      return;
    }
    try {
      switch (op.kind) {
        case READ: {
          const s = this.segments.fill(op.bufs);
          ring.prepReadv(this.fd, s.basesArg, s.triples, s.count, op.position, op.id);
          break;
        }
        case WRITE: {
          const s = this.segments.fill(op.bufs);
          ring.prepWritev(this.fd, s.basesArg, s.triples, s.count, op.position, op.id);
          break;
        }
        default: ring.prepFsync(this.fd, true, op.id);
      }
    } catch (error) {
      // Not expected (the counts above keep the ring from refusing): fail this op, not the thread.
      return this.settle(op, error as Error);
    }
    this.inRing++;
    this.prepared++;
  }

  /**
   * Submits what is prepared and reaps until the CQ is empty; a completion
   * may prepare more (the rest of a short transfer, a request that waited
   * for room), so it goes round until there is nothing left to do now.
   */
  private pump(): void {
    for (let ring = this.ring; ring !== null; ring = this.ring) {
      const submitted = this.prepared === 0 || this.submit(ring);
      if (this.ring === null) break; // failed over
      const n = ring.reap(this.cqes);
      for (let i = 0; i < n; i++) this.complete(this.cqes[2 * i]!, this.cqes[2 * i + 1]!);
      if (n === 0 && (this.prepared === 0 || !submitted)) break;
    }
    this.settleWatcher();
  }

  /** false when not everything could be submitted now (a retry or a fail-over is under way). */
  private submit(ring: IoUring): boolean {
    let error: unknown = null;
    try {
      this.prepared -= ring.submit();
    } catch (e) {
      error = e;
    }
    if (this.prepared === 0) return true;
    if (error === null || TRANSIENT.has((error as { code?: string }).code ?? '')) {
      // What is left stays prepared in the ring: try again on the next turn.
      if (!this.retryScheduled) {
        this.retryScheduled = true;
        setImmediate(() => {
          this.retryScheduled = false;
          this.pump();
        });
      }
    } else {
      this.failOver(error as Error);
    }
    return false;
  }

  /**
   * The ring cannot take work any more (io_uring_enter refused with more
   * than a transient error, e.g. a seccomp filter that allows only setup):
   * give up on it and serve everything with the thread pool (this.file),
   * starting with what was in the ring. Redoing is safe: close() waited for
   * whatever the kernel had taken, and a read or write of the same bytes at
   * the same place gives the same result; the driver has not been told yet.
   */
  private failOver(error: Error): void {
    this.watcher.close();
    const ring = this.ring;
    this.ring = null;
    ring?.close();
    this.inRing = this.prepared = 0;
    this.backlog.length = 0;
    this.failedOver = error;
    for (const op of this.ops) if (op !== undefined) this.redo(op);
  }

  /** What is left of `op`, through the thread pool (once: failOver may have done it already). */
  private redo(op: Op): void {
    if (op.redone) return;
    op.redone = true;
    let pending: void | Promise<void>;
    try {
      if (op.kind === READ) pending = this.file.readv(op.position, op.bufs);
      else if (op.kind === WRITE) pending = this.file.writev(op.position, op.bufs);
      else pending = this.file.flush();
    } catch (error) {
      return this.settle(op, error as Error);
    }
    if (pending === undefined) return this.settle(op, null);
    pending.then(() => this.settle(op, null), (error: Error) => this.settle(op, error));
  }

  private failAll(error: Error): void {
    this.inRing = this.prepared = 0;
    this.backlog.length = 0;
    for (const op of this.ops) if (op !== undefined) this.settle(op, error);
  }

  /** One CQE: the op is done, or continues with what is left of it. */
  private complete(id: number, res: number): void {
    const op = this.ops[id];
    this.inRing--;
    if (op !== undefined) this.advance(op, res);
    const next = this.inRing < this.capacity ? this.backlog.shift() : undefined;
    if (next !== undefined) this.enqueue(next);
  }

  private advance(op: Op, res: number): void {
    if (res < 0) return this.settle(op, uringError(-res, op.kind));
    // The whole transfer, the usual case: no walk over the views.
    if (op.kind === FSYNC || res >= op.length) return this.settle(op, null);
    const rest = skipBytes(op.bufs, res);
    if (res === 0) {
      // The same rules as FileBackend: end of file reads as zeroes (the file
      // is shorter than the disk); a write that moves nothing is an error.
      if (op.kind === WRITE) return this.settle(op, errnoError('EIO', 'pwritev wrote nothing'));
      for (const buf of rest) buf.fill(0);
      return this.settle(op, null);
    }
    op.bufs = rest;
    op.length -= res;
    op.position += res;
    this.enqueue(op);
  }

  private settle(op: Op, error: Error | null): void {
    if (this.ops[op.id] !== op) return; // settled already (closed while a redo was under way)
    this.ops[op.id] = undefined;
    this.freeIds.push(op.id);
    if (op.completion === null) {
      // Still inside run(): it returns (or throws) this synchronously.
      op.done = true;
      op.error = error;
    } else {
      op.completion.settle(error);
    }
  }

  private onEventfd(): void {
    // Reset the counter before reaping, so a CQE posted after the reap signals again.
    native().read(this.eventfd, this.eventfdValue);
    this.pump();
  }

  /**
   * The eventfd watcher keeps the event loop alive only while I/O is in the
   * ring. Switched at the end of a pump, so a request completed inline costs
   * no ref/unref calls.
   */
  private settleWatcher(): void {
    const busy = this.inRing > 0 && this.ring !== null;
    if (busy === this.watching) return;
    this.watching = busy;
    if (busy) this.watcher.ref();
    else this.watcher.unref();
  }
}

const SYSCALLS = ['preadv', 'pwritev', 'fdatasync'] as const;

/** A negative CQE result as the error Node's fs would have thrown: code, errno, syscall. */
function uringError(errno: number, kind: Kind): Error & { code: string; errno: number; syscall: string } {
  const code = getSystemErrorName(-errno);
  const syscall = SYSCALLS[kind];
  return Object.assign(new Error(`${code}: ${syscall} failed (io_uring)`), { code, errno: -errno, syscall });
}
