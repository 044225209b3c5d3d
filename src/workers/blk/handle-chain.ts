/**
 * One descriptor chain in, one used-ring length out: parse, execute, fill
 * the writable buffers and write the status byte.
 */
import type { BlockBackend } from '../backends/backend.js';
import { Completion } from '../backends/completion.js';
import type { DescriptorChain } from '../virtq/chain.js';
import { VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK } from '../../shared/virtio.js';
import { startRequest, statusForError } from './execute.js';
import { fillViews, sliceViews } from './iov.js';
import { parseRequest } from './request.js';
import type { BlkDeviceSettings } from './settings.js';

/**
 * Returned by {@link handleChain} for a chain with no writable byte: there is
 * nowhere to put a status, so the request can never be completed in a way
 * the driver understands (Linux would wait for it forever: virtio_blk has no
 * timeout handler, reference/vduse-and-virtio-blk.md §3.6).
 * The caller must treat the queue as broken and stop it.
 */
export const BLK_NO_STATUS = -1;

/**
 * Handles one chain. Returns the used-ring `len` (every writable byte is
 * written: the data in full, then the status), or a promise of it when the
 * backend is asynchronous, or {@link BLK_NO_STATUS}. Never throws, never
 * rejects: every failure becomes a status.
 */
export function handleChain(
  chain: DescriptorChain, settings: BlkDeviceSettings, backend: BlockBackend,
): number | Promise<number> {
  let later: ((len: number) => void) | undefined;
  let settledLen: number | undefined; // a Completion already settled calls back before handleChainThen returns
  const now = handleChainThen(chain, settings, backend, (_chain, len) => {
    if (later === undefined) settledLen = len;
    else later(len);
  });
  if (now !== undefined) return now;
  if (settledLen !== undefined) return settledLen;
  return new Promise((resolve) => { later = resolve; });
}

/**
 * Called when an asynchronous request is over. `batched` is true when it
 * completed through a {@link Completion}: synchronously, from a reap of
 * several kernel completions, with more of them possibly on the same stack
 * (the caller may publish once the reap is over); false when it completed
 * through a promise reaction (one per request).
 */
export type ChainDone = (chain: DescriptorChain, len: number, batched: boolean) => void;

/**
 * {@link handleChain} for the queue loop: returns the `len` when the request
 * completed synchronously; otherwise returns undefined and calls
 * `done(chain, len, batched)` once the backend settles. A backend's
 * {@link Completion} calls back with no promise at all; any other pending
 * result gets one reaction on its own promise, where handleChain's promise
 * costs two more per request (each a microtask, and far dearer under
 * emulation).
 */
export function handleChainThen(
  chain: DescriptorChain, settings: BlkDeviceSettings, backend: BlockBackend, done: ChainDone,
): number | undefined {
  if (chain.fault !== null) return completeFault(chain);
  if (chain.writableBytes === 0) return BLK_NO_STATUS;
  let started: number | PromiseLike<void>;
  try {
    const request = parseRequest(chain, settings);
    started = typeof request === 'number' ? request : startRequest(request, backend);
  } catch {
    started = VIRTIO_BLK_S_IOERR; // parse and start do not throw; this only keeps the contract
  }
  if (typeof started === 'number') return complete(chain, started);
  if (started instanceof Completion) {
    started.whenSettled((error) => done(chain, complete(chain, error === null ? VIRTIO_BLK_S_OK : statusForError(error)), true));
    return undefined;
  }
  // Promise.resolve: a foreign thenable is assimilated once, and its then() may not throw at us.
  Promise.resolve(started).then(
    () => done(chain, complete(chain, VIRTIO_BLK_S_OK), false),
    (error: unknown) => done(chain, complete(chain, statusForError(error)), false),
  );
  return undefined;
}

/**
 * Writes the status into the last writable byte, after the data. On failure
 * the data bytes are zeroed first: device-writable buffers are always filled
 * completely: under VDUSE they are bounce buffers that would otherwise
 * hand stale memory to the driver (reference/vduse-and-virtio-blk.md §1.8).
 */
function complete(chain: DescriptorChain, status: number): number {
  if (status !== VIRTIO_BLK_S_OK) fillViews(sliceViews(chain.writable, 0, chain.writableBytes - 1), 0);
  // The status is the list's last byte, so the last view's (views are never
  // empty: a zero-length descriptor faults): no walk over a large read's views.
  const view = chain.writable[chain.writable.length - 1]!;
  view[view.length - 1] = status;
  return chain.writableBytes;
}

/**
 * A faulted chain (chain.ts) keeps at most one writable view, ending with the
 * chain's last writable byte: report IOERR there, or stop the queue when
 * even that byte could not be mapped.
 */
function completeFault(chain: DescriptorChain): number {
  const view = chain.writable[chain.writable.length - 1];
  if (view === undefined || view.length === 0) return BLK_NO_STATUS;
  view.fill(0, 0, view.length - 1);
  view[view.length - 1] = VIRTIO_BLK_S_IOERR;
  return view.length;
}
