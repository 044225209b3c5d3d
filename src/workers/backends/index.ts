/**
 * Opening a backend from a description that crosses the main-thread →
 * worker boundary (structured clone: fds are plain numbers valid in every
 * thread, a SharedArrayBuffer is shared, a module is named by specifier).
 * Each queue worker opens its own backend from the same descriptor.
 */
import * as fs from 'node:fs';
import type { BlockBackend } from './backend.js';
import type { BackendDescriptor } from '../../shared/worker-data.js';
import { fileIoMode } from '../../shared/file-io.js';
import { FileBackend } from './file.js';
import { MemoryBackend } from './memory.js';
import { SyncFileBackend } from './sync-file.js';
import { UringFileBackend } from './uring-file.js';

export type { BackendDescriptor } from '../../shared/worker-data.js';

/** What a backend is opened for. */
export interface BackendContext {
  /** The virtqueue whose worker will use the backend. */
  readonly queueIndex: number;
}

/** The factory a 'module' backend exports. */
export type BackendFactory = (options: unknown, context: BackendContext) => BlockBackend | Promise<BlockBackend>;

const DEFAULT_EXPORT_NAME = 'createBackend';
const METHODS = ['readv', 'writev', 'flush', 'discard', 'writeZeroes', 'close'] as const;

export async function openBackend(descriptor: BackendDescriptor, context: BackendContext): Promise<BlockBackend> {
  switch (descriptor.kind) {
    case 'file': return openFileBackend(descriptor, process.env['VDUSE_BLK_IO']);
    case 'memory': return new MemoryBackend(descriptor.buffer);
    case 'memfd': return MemoryBackend.mapFd(descriptor.fd, descriptor.size);
    case 'module': return openModuleBackend(descriptor.specifier, descriptor.exportName, descriptor.options, context);
    default: throw new TypeError(`unknown backend kind ${String((descriptor as { kind?: unknown }).kind)}`);
  }
}

type FileDescriptor = Extract<BackendDescriptor, { kind: 'file' }>;

/** io_uring_setup errors that mean "not here" (ENOMEM: kernels before 5.12 charge rings to RLIMIT_MEMLOCK). */
const URING_UNAVAILABLE = new Set(['ENOSYS', 'EPERM', 'EACCES', 'ENOMEM']);

/** statfs f_type of file systems whose files live in memory: tmpfs, ramfs, hugetlbfs. */
const MEMORY_FS_TYPES = new Set([0x01021994, 0x858458f6, 0x958458f6]);


/**
 * A file backend, its I/O chosen by `io` (VDUSE_BLK_IO; default 'auto'):
 * - 'auto': 'sync' for a file on a memory file system (tmpfs, ramfs,
 *   hugetlbfs), where I/O is a page-cache copy that never waits; else
 *   io_uring where the kernel allows it (missing before 5.1, off with
 *   kernel.io_uring_disabled, refused by seccomp filters such as Docker's
 *   default), else libuv's thread pool.
 * - 'uring': io_uring, failing where it is unavailable;
 * - 'threads': libuv's thread pool;
 * - 'sync': preadv/pwritev on the queue's own thread (reads over 64 KiB
 *   through io_uring where available, writes over 64 KiB on the pool).
 * The backend's `io` property says which one it is.
 */
export function openFileBackend(
  descriptor: FileDescriptor, io?: string,
): FileBackend | UringFileBackend | SyncFileBackend {
  const options = { readOnly: descriptor.readOnly };
  const mode = fileIoMode(io);
  if (mode === 'threads') return new FileBackend(descriptor.fd, descriptor.size, options);
  if (mode === 'sync' || (mode === 'auto' && onMemoryFileSystem(descriptor.fd))) {
    const bulkReads = uringOrNull(descriptor, options);
    return new SyncFileBackend(descriptor.fd, descriptor.size, { ...options, ...(bulkReads ? { bulkReads } : {}) });
  }
  if (mode === 'uring') return new UringFileBackend(descriptor.fd, descriptor.size, options);
  return uringOrNull(descriptor, options) ?? new FileBackend(descriptor.fd, descriptor.size, options);
}

/** An io_uring backend, or null where io_uring is unavailable (other errors are thrown). */
function uringOrNull(descriptor: FileDescriptor, options: { readOnly: boolean }): UringFileBackend | null {
  try {
    return new UringFileBackend(descriptor.fd, descriptor.size, options);
  } catch (error) {
    if (!URING_UNAVAILABLE.has((error as { code?: string }).code ?? '')) throw error;
    return null;
  }
}

/** Whether `fd` is a file on tmpfs, ramfs or hugetlbfs (false when that cannot be told). */
export function onMemoryFileSystem(fd: number): boolean {
  try {
    return fs.fstatSync(fd).isFile() && MEMORY_FS_TYPES.has(fs.statfsSync(`/proc/self/fd/${fd}`).type);
  } catch {
    return false;
  }
}

async function openModuleBackend(
  specifier: string, exportName: string | undefined, options: unknown, context: BackendContext,
): Promise<BlockBackend> {
  const name = exportName ?? DEFAULT_EXPORT_NAME;
  const module = (await import(toImportSpecifier(specifier))) as Record<string, unknown>;
  const factory = module[name];
  if (typeof factory !== 'function') {
    const found = Object.keys(module).join(', ') || 'none';
    throw new TypeError(`backend module ${specifier} does not export a function "${name}" (exports: ${found})`);
  }
  const backend: unknown = await (factory as BackendFactory)(options, context);
  return validateBackend(backend, `${specifier}#${name}`);
}

/** Checks the shape a factory returned, naming everything that is missing. */
export function validateBackend(backend: unknown, origin: string): BlockBackend {
  if (typeof backend !== 'object' || backend === null) {
    throw new TypeError(`backend factory ${origin} returned ${backend === null ? 'null' : typeof backend}, not a backend object`);
  }
  const candidate = backend as Record<string, unknown>;
  const problems: string[] = METHODS.filter((m) => typeof candidate[m] !== 'function').map((m) => `no ${m}() method`);
  const size = candidate['size'];
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    problems.push(`size ${String(size)} is not a byte count`);
  }
  if (problems.length > 0) throw new TypeError(`backend from ${origin} is not a BlockBackend: ${problems.join('; ')}`);
  return backend as BlockBackend;
}

/** Paths become file: URLs (every character that means something in a URL escaped); the rest goes to import() as is. */
function toImportSpecifier(specifier: string): string {
  const relative = specifier.startsWith('./') || specifier.startsWith('../');
  if (!specifier.startsWith('/') && !relative) return specifier;
  const path = relative ? `${process.cwd()}/${specifier}` : specifier;
  return new URL(`file://${path.split('/').map(encodeURIComponent).join('/')}`).href;
}
