/**
 * Executing a parsed request against a backend, and the one mapping from
 * failures to virtio-blk statuses.
 */
import type { BlockBackend } from '../backends/backend.js';
import {
  VIRTIO_BLK_ID_BYTES, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT,
} from '../../shared/virtio.js';
import { copyToViews } from './iov.js';
import type { BlkRequest, BlkSegmentsRequest } from './request.js';

type Pending = void | PromiseLike<void>;

/**
 * The status for a failure. A backend answers "this operation is not
 * supported" by throwing an error whose `code` is EOPNOTSUPP (or ENOTSUP):
 * that becomes UNSUPP (Linux then reports -EOPNOTSUPP, e.g. to fstrim).
 * Everything else, whatever it is, becomes IOERR.
 */
export function statusForError(error: unknown): number {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return code === 'EOPNOTSUPP' || code === 'ENOTSUP' ? VIRTIO_BLK_S_UNSUPP : VIRTIO_BLK_S_IOERR;
}

/**
 * Starts `request` on `backend`: its status when it completed synchronously
 * (or failed to start), else the backend's pending result, to be settled
 * with {@link statusForError} on rejection. Never throws.
 */
export function startRequest(request: BlkRequest, backend: BlockBackend): number | PromiseLike<void> {
  let pending: Pending;
  try {
    pending = start(request, backend);
  } catch (error) {
    return statusForError(error);
  }
  return isPromiseLike(pending) ? pending : VIRTIO_BLK_S_OK;
}

/**
 * Runs `request` on `backend`. Returns the status synchronously when the
 * backend completed synchronously, else a promise of it; never throws, and
 * the promise never rejects.
 */
export function executeRequest(request: BlkRequest, backend: BlockBackend): number | Promise<number> {
  const started = startRequest(request, backend);
  if (typeof started === 'number') return started;
  return Promise.resolve(started).then(statusOk, statusForError);
}

function statusOk(): number {
  return VIRTIO_BLK_S_OK;
}

function isPromiseLike(value: unknown): value is PromiseLike<void> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function start(request: BlkRequest, backend: BlockBackend): Pending {
  switch (request.type) {
    case VIRTIO_BLK_T_IN: return backend.readv(request.offset, request.data);
    case VIRTIO_BLK_T_OUT: return backend.writev(request.offset, request.data);
    case VIRTIO_BLK_T_FLUSH: return backend.flush();
    case VIRTIO_BLK_T_GET_ID: return writeSerial(request.data, request.serial);
    default: return runSegments(request, backend, 0);
  }
}

const idScratch = new Uint8Array(VIRTIO_BLK_ID_BYTES);

/** §5.2.6: the ID is NUL-padded ASCII, with no terminator when all 20 bytes are used. */
function writeSerial(data: readonly Uint8Array[], serial: string): void {
  idScratch.fill(0);
  const n = Math.min(serial.length, VIRTIO_BLK_ID_BYTES);
  for (let i = 0; i < n; i++) {
    const code = serial.charCodeAt(i);
    idScratch[i] = code < 0x80 ? code : 0x3f; // '?' for what ASCII cannot say
  }
  copyToViews(data, idScratch);
}

/** The segments in order, from `index` on, going asynchronous only when the backend does. */
function runSegments(request: BlkSegmentsRequest, backend: BlockBackend, index: number): Pending {
  for (let i = index; i < request.segments.length; i++) {
    const { offset, length, unmap } = request.segments[i]!;
    const pending = request.type === VIRTIO_BLK_T_DISCARD
      ? backend.discard(offset, length)
      : backend.writeZeroes(offset, length, unmap);
    if (isPromiseLike(pending)) {
      return Promise.resolve(pending).then(() => runSegments(request, backend, i + 1));
    }
  }
  return undefined;
}
