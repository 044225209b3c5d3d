/**
 * The one place that loads the native addon (build/Release/vduse_native.node).
 *
 * The addon is a thin syscall layer: no policy, no struct layouts. Every
 * failing call throws a {@link NativeError}-shaped `Error` carrying `code`
 * (e.g. `'EINVAL'`), `errno` (negative, as Node's own fs errors) and
 * `syscall`. It is context-aware, so every worker thread loads its own copy.
 */
import { createRequire } from 'node:module';

/** Shape of errors thrown by the addon (same convention as Node's fs errors). */
export interface NativeError extends Error {
  /** errno name, e.g. `'EAGAIN'`. */
  code: string;
  /** Negative errno, e.g. `-11`. */
  errno: number;
  /** The failing syscall, e.g. `'ioctl'`. */
  syscall: string;
}

/** A file descriptor watched from the event loop of the thread that created it (uv_poll). */
export interface FdWatcher {
  /** Stops watching; the callback is never called again. Idempotent. */
  close(): void;
  /** Lets the event loop exit while this watcher is the only thing alive. */
  unref(): void;
  /** Keeps the event loop alive while this watcher is active (default). */
  ref(): void;
}

/**
 * One io_uring (io_uring_setup(2)), for the thread that created it: prepare
 * operations, submit them in one io_uring_enter, reap their completions.
 * The kernel keeps using the buffers of readv/writev until their completion
 * is reaped; the ring holds references to them until then (so no GC can free
 * them), but the caller must not munmap them meanwhile.
 */
export interface IoUring {
  /** SQ size: how many operations can be prepared before a {@link IoUring.submit}. */
  readonly sqEntries: number;
  /** CQ size: how many operations may be prepared and not yet reaped (more throw EBUSY). */
  readonly cqEntries: number;
  /** Operations prepared and not yet reaped. */
  readonly inflight: number;
  /**
   * Prepares preadv(fd, iov, offset), the iovecs given as `count` triples in
   * `segments`: [index into `bases`, byte offset in that base, byte length]
   * (`bases` may be the only base itself rather than an array of one)
   * (`Segments` in src/workers/backends/segments.ts makes them from views).
   * Throws a RangeError when a triple lies outside its base, EBUSY when the
   * SQ is full (submit first) or `cqEntries` operations are already in
   * flight. The kernel refuses more than 1024 iovecs (UIO_MAXIOV) with
   * -EINVAL in the completion. `bases` and `segments` may be reused at once.
   */
  prepReadv(fd: number, bases: Uint8Array | readonly Uint8Array[], segments: Float64Array, count: number, offset: number, userData: number): void;
  /** Prepares pwritev(fd, iov, offset); as {@link IoUring.prepReadv}. */
  prepWritev(fd: number, bases: Uint8Array | readonly Uint8Array[], segments: Float64Array, count: number, offset: number, userData: number): void;
  /** Prepares fsync(fd), or fdatasync(fd) when `datasync`. */
  prepFsync(fd: number, datasync: boolean, userData: number): void;
  /** Prepares fallocate(fd, mode, offset, length). */
  prepFallocate(fd: number, mode: number, offset: number, length: number, userData: number): void;
  /**
   * io_uring_enter for everything prepared; returns how many the kernel took.
   * Operations may complete inside the call (a page-cache hit); those do not
   * signal the eventfd, so reap after every submit.
   */
  submit(): number;
  /**
   * Moves available completions into `out` as pairs [userData, res], as many
   * as fit (`out.length / 2`), and returns how many. `res` is the syscall's
   * result: bytes transferred, 0, or a negative errno. An Int32Array carries
   * userData truncated to int32.
   */
  reap(out: Float64Array | Int32Array): number;
  /**
   * An eventfd (non-blocking) the kernel signals when it posts completions
   * outside {@link IoUring.submit}; watch it, read it to reset it, then reap.
   * Made on the first call, the same fd afterwards; {@link IoUring.close} closes it.
   */
  eventfd(): number;
  /**
   * Waits for every submitted operation to complete (blocking the thread),
   * drops what was prepared but not submitted, releases the buffers and
   * closes the ring and its eventfd (stop watching it first). Idempotent.
   * Runs by itself when the thread's environment is torn down.
   */
  close(): void;
}

/** Syscall constants exported by the addon (values from the C headers). */
export interface NativeConstants {
  O_RDONLY: number; O_WRONLY: number; O_RDWR: number; O_NONBLOCK: number; O_CLOEXEC: number;
  O_CREAT: number; O_DIRECT: number;
  EFD_NONBLOCK: number; EFD_CLOEXEC: number; EFD_SEMAPHORE: number;
  MFD_CLOEXEC: number;
  PROT_READ: number; PROT_WRITE: number; MAP_SHARED: number; MADV_HUGEPAGE: number;
  FALLOC_FL_KEEP_SIZE: number; FALLOC_FL_PUNCH_HOLE: number; FALLOC_FL_ZERO_RANGE: number;
  AF_NETLINK: number; SOCK_RAW: number; SOCK_CLOEXEC: number; NETLINK_GENERIC: number;
  POLLIN: number; POLLOUT: number; POLLERR: number; POLLHUP: number;
  /** Events bits used by {@link NativeAddon.watch}. */
  UV_READABLE: number; UV_WRITABLE: number;
}

/** The addon's functions. All fds are plain integers, valid in every thread of the process. */
export interface NativeAddon {
  readonly constants: NativeConstants;
  open(path: string, flags: number, mode?: number): number;
  close(fd: number): void;
  dup(fd: number): number;
  /** read(2). Returns bytes read, or -1 when the fd is non-blocking and would block (EAGAIN). */
  read(fd: number, buf: Uint8Array): number;
  /** write(2). Returns bytes written, or -1 on EAGAIN. */
  write(fd: number, buf: Uint8Array): number;
  /**
   * ioctl(2) with a pointer to `arg`'s bytes (in and out), or with an integer
   * argument, or with none. Returns the ioctl's non-negative return value
   * (e.g. the new fd of VDUSE_IOTLB_GET_FD).
   */
  ioctl(fd: number, request: number, arg?: Uint8Array | number): number;
  /**
   * preadv(2) at `offset` on the calling thread, the iovecs given as `count`
   * triples as for {@link IoUring.prepReadv} (a RangeError when one lies
   * outside its base). Returns the bytes read (0 at end of file).
   */
  preadv(fd: number, bases: Uint8Array | readonly Uint8Array[], segments: Float64Array, count: number, offset: number): number;
  /** pwritev(2); as {@link NativeAddon.preadv}. Returns the bytes written. */
  pwritev(fd: number, bases: Uint8Array | readonly Uint8Array[], segments: Float64Array, count: number, offset: number): number;
  eventfd(initval: number, flags: number): number;
  memfdCreate(name: string, flags: number): number;
  ftruncate(fd: number, length: number): void;
  fallocate(fd: number, mode: number, offset: number, length: number): void;
  /**
   * mmap(2) of `length` bytes of `fd` at `offset` (page-aligned) as an
   * external ArrayBuffer. A finalizer unmaps it when the buffer is collected;
   * {@link NativeAddon.munmap} unmaps it at once.
   */
  mmap(fd: number, offset: number, length: number, prot: number, flags: number): ArrayBuffer;
  /** Unmaps a buffer returned by mmap now and detaches it (its byteLength becomes 0). Idempotent. */
  munmap(buf: ArrayBuffer): void;
  /** madvise(2) over the whole of a still-mapped buffer returned by mmap; throws with the errno. */
  madvise(buf: ArrayBuffer, advice: number): void;
  /** Pins the calling thread to these CPUs (sched_setaffinity on its tid). */
  setAffinity(cpus: readonly number[]): void;
  /** The CPUs the calling thread may run on. */
  getAffinity(): number[];
  /** The calling thread's kernel thread id. */
  gettid(): number;
  /** prctl(PR_SET_NAME) for the calling thread (15 bytes kept). */
  setThreadName(name: string): void;
  /**
   * Watches `fd` on the calling thread's event loop (libuv poll). `events` is a
   * mask of UV_READABLE / UV_WRITABLE. The callback gets an error (as a
   * NativeError) or null, and the ready events.
   */
  watch(fd: number, events: number, cb: (err: NativeError | null, events: number) => void): FdWatcher;
  /**
   * poll(2) on several fds at once, blocking the calling thread up to
   * `timeoutMs` (-1 forever). Returns the revents of each fd, in order.
   */
  poll(fds: readonly number[], events: readonly number[], timeoutMs: number): number[];
  socket(domain: number, type: number, protocol: number): number;
  /** bind(2) to a netlink address {nl_family=AF_NETLINK, nl_pid, nl_groups}. */
  bindNetlink(fd: number, pid: number, groups: number): void;
  /** send(2) / recv(2) on the calling thread (blocking as the fd is). */
  send(fd: number, buf: Uint8Array): number;
  recv(fd: number, buf: Uint8Array): number;
  /** send(2) / recv(2) on libuv's thread pool: the calling thread is never blocked. */
  sendAsync(fd: number, buf: Uint8Array): Promise<number>;
  recvAsync(fd: number, buf: Uint8Array): Promise<number>;
  /**
   * setsockopt(2) with an int value (e.g. SOL_NETLINK / NETLINK_EXT_ACK = 1).
   * Optional until the addon implements it: callers check `typeof` first.
   */
  setsockoptInt?(fd: number, level: number, name: number, value: number): void;
  /**
   * io_uring_setup(2) with `entries` SQ entries (rounded up to a power of
   * two). Throws ENOSYS, EPERM or EACCES where io_uring is missing or
   * forbidden (old kernels, kernel.io_uring_disabled, seccomp filters).
   */
  ioUringCreate(entries: number): IoUring;
}

const require = createRequire(import.meta.url);

let cached: NativeAddon | undefined;

/** Loads (once per thread) and returns the native addon. */
export function native(): NativeAddon {
  if (cached === undefined) {
    // dist/src/shared/native.js → ../../../build/Release
    // Copied into a literal: the addon's own exports object is in V8's
    // dictionary mode (too many properties set one by one), so every
    // `native().fn` on the I/O path would be a hash lookup, not an inline load.
    cached = { ...(require('../../../build/Release/vduse_native.node') as NativeAddon) };
  }
  return cached;
}
