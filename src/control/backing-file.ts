/**
 * Opens the file behind a device: validates it, creates or grows it (sparse)
 * when a size is asked for, and never shrinks or truncates what is there.
 */
import { closeSync, constants, fstatSync, ftruncateSync, openSync } from 'node:fs';
import { BackendError, errnoCode } from '../shared/errors.js';

export interface BackingFileOptions {
  path: string;
  /** Device size in bytes; the file is created or grown to it. Without it the file must exist. */
  size?: number | undefined;
  readOnly: boolean;
  /** Every write is durable before it completes (O_DSYNC). */
  writethrough: boolean;
  logicalBlockSize: number;
}

export interface BackingFile {
  fd: number;
  /** Device size in bytes (a multiple of the logical block size). */
  size: number;
  /** Whether this call created the file. */
  created: boolean;
  close(): void;
}

export function openBackingFile(o: BackingFileOptions): BackingFile {
  let flags = o.readOnly ? constants.O_RDONLY : constants.O_RDWR;
  if (o.writethrough && !o.readOnly) flags |= constants.O_DSYNC;
  let created = false;
  let fd: number;
  try {
    try {
      fd = openSync(o.path, flags);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT' || o.size === undefined) throw err;
      fd = openSync(o.path, flags | constants.O_CREAT | constants.O_EXCL, 0o644);
      created = true;
    }
  } catch (err) {
    throw new BackendError(describeOpenError(o.path, err, o.size !== undefined), { cause: err });
  }
  try {
    const size = settleSize(fd, o);
    return { fd, size, created, close: () => closeSync(fd) };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

function settleSize(fd: number, o: BackingFileOptions): number {
  const st = fstatSync(fd);
  if (!st.isFile()) throw new BackendError(`${o.path} is not a regular file`);
  if (o.size !== undefined) {
    if (st.size < o.size) {
      try {
        ftruncateSync(fd, o.size);
      } catch (err) {
        throw new BackendError(`${o.path} is ${st.size} bytes, smaller than --size asks (${o.size}), and cannot ` +
          `be grown: ${(err as Error).message}`, { cause: err });
      }
    }
    return o.size;
  }
  const size = st.size - (st.size % o.logicalBlockSize);
  if (size === 0) {
    throw new BackendError(`${o.path} is too small (${st.size} bytes): a device needs at least one ` +
      `${o.logicalBlockSize}-byte block (use --size to grow it)`);
  }
  return size;
}

function describeOpenError(path: string, err: unknown, withSize: boolean): string {
  switch (errnoCode(err)) {
    case 'ENOENT':
      return withSize ? `cannot create ${path}: its directory does not exist`
        : `${path} does not exist (give --size to create it)`;
    case 'EACCES':
    case 'EPERM':
      return `no permission to open ${path}`;
    case 'EISDIR':
      return `${path} is a directory`;
    case 'EROFS':
      return `${path} is on a read-only filesystem (use --readonly)`;
    default:
      return `cannot open ${path}: ${(err as Error).message}`;
  }
}
