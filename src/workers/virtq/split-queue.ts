/**
 * The device side of a split virtqueue (VIRTIO 1.2 §2.7): pops descriptor
 * chains from the avail ring, returns them on the used ring, and decides
 * notifications in both directions. Pure: guest memory comes in through
 * {@link GuestMemory}; memory ordering is explained in ring-access.ts.
 */
import {
  VIRTQ_MAX_SIZE,
  VRING_AVAIL_F_NO_INTERRUPT,
  VRING_DESC_SIZE,
  VRING_USED_ELEM_SIZE,
  VRING_USED_F_NO_NOTIFY,
} from '../../shared/virtio.js';
import { VirtqueueError } from './chain.js';
import type { DescriptorChain } from './chain.js';
import { readDescriptorChain } from './descriptor-chain.js';
import type { ChainLimits } from './descriptor-chain.js';
import { GuestMemoryError } from './guest-memory.js';
import type { GuestMemory } from './guest-memory.js';
import { vringNeedEvent } from './notification.js';
import { loadAcquire, storeRelease, u16Array } from './ring-access.js';

export interface SplitQueueOptions {
  /** Queue size N: a power of 2, at most 32768. */
  readonly size: number;
  /** IOVA of the descriptor table (16-byte aligned). */
  readonly descAddr: number;
  /** IOVA of the avail ring, the "driver area" (2-byte aligned). */
  readonly driverAddr: number;
  /** IOVA of the used ring, the "device area" (4-byte aligned). */
  readonly deviceAddr: number;
  /** VIRTIO_F_EVENT_IDX negotiated: used_event / avail_event are in use. */
  readonly eventIdx: boolean;
  /** VIRTIO_F_INDIRECT_DESC negotiated. */
  readonly indirect: boolean;
  /**
   * Most bytes one chain may describe; a larger chain is returned with a
   * fault. Default 2^32 - 1: what a used element's le32 `len` can report
   * (§2.7.5.2 forbids chains over 2^32 bytes).
   */
  readonly maxChainBytes?: number;
}

/** Default for {@link SplitQueueOptions.maxChainBytes}. */
export const DEFAULT_MAX_CHAIN_BYTES = 0xffff_ffff;

// u16 indices into the ring areas (§2.7.6 avail ring, §2.7.8 used ring).
const FLAGS = 0;
const IDX = 1;
const RING = 4; // byte offset of ring[0] in both areas

/** Maps one ring area; it must be a single view (one host mapping). */
function mapArea(mem: GuestMemory, iova: number, length: number, write: boolean, what: string): Uint8Array {
  let views: Uint8Array[];
  try {
    views = mem.translate(iova, length, write);
  } catch (err) {
    if (err instanceof GuestMemoryError) throw new VirtqueueError(`${what} at 0x${iova.toString(16)}: ${err.message}`);
    throw err;
  }
  const view = views[0];
  if (views.length !== 1 || view === undefined) {
    throw new VirtqueueError(`${what} at 0x${iova.toString(16)} spans ${views.length} mappings`);
  }
  return view;
}

function fieldsOf(view: Uint8Array, what: string): Uint16Array {
  const fields = u16Array(view);
  if (fields === null) throw new VirtqueueError(`${what} is not 2-byte aligned in host memory (or host is big-endian)`);
  return fields;
}

function checkGeometry(o: SplitQueueOptions): void {
  const { size } = o;
  if (!Number.isInteger(size) || size < 1 || size > VIRTQ_MAX_SIZE || (size & (size - 1)) !== 0) {
    throw new VirtqueueError(`queue size ${size} is not a power of 2 in 1..${VIRTQ_MAX_SIZE}`);
  }
  // Alignment table of §2.7.
  if (o.descAddr % 16 !== 0) throw new VirtqueueError('descriptor table not 16-byte aligned');
  if (o.driverAddr % 2 !== 0) throw new VirtqueueError('avail ring not 2-byte aligned');
  if (o.deviceAddr % 4 !== 0) throw new VirtqueueError('used ring not 4-byte aligned');
}

export class SplitQueue {
  readonly size: number;
  readonly eventIdx: boolean;
  private readonly mem: GuestMemory;
  private readonly limits: ChainLimits;
  private readonly desc: DataView;
  private readonly avail: DataView;
  private readonly availFields: Uint16Array;
  private readonly used: DataView;
  private readonly usedFields: Uint16Array;
  /** u16 index of used_event (after avail.ring[N]) and avail_event. */
  private readonly usedEventField: number;
  private readonly availEventField: number;
  private nextAvail = 0;
  /** avail.idx as last read; entries before it are safe to read. */
  private shadowAvail = 0;
  /** used.idx as last published. */
  private publishedUsed: number;
  private pending = 0;
  private usedFlags: number;
  /** Used-buffer notification state (§2.7.7; vhost `signalled_used`). */
  private signalledUsed: number;
  private signalledValid = false;
  private usedSinceDecision = 0;
  private broken: VirtqueueError | null = null;

  constructor(mem: GuestMemory, options: SplitQueueOptions) {
    checkGeometry(options);
    const { size, eventIdx } = options;
    const event = eventIdx ? 2 : 0;
    this.size = size;
    this.eventIdx = eventIdx;
    this.mem = mem;
    this.limits = { indirect: options.indirect, maxChainBytes: options.maxChainBytes ?? DEFAULT_MAX_CHAIN_BYTES };
    const desc = mapArea(mem, options.descAddr, VRING_DESC_SIZE * size, false, 'descriptor table');
    const avail = mapArea(mem, options.driverAddr, RING + 2 * size + event, false, 'avail ring');
    const used = mapArea(mem, options.deviceAddr, RING + VRING_USED_ELEM_SIZE * size + event, true, 'used ring');
    this.desc = new DataView(desc.buffer, desc.byteOffset, desc.byteLength);
    this.avail = new DataView(avail.buffer, avail.byteOffset, avail.byteLength);
    this.used = new DataView(used.buffer, used.byteOffset, used.byteLength);
    this.availFields = fieldsOf(avail, 'avail ring');
    this.usedFields = fieldsOf(used, 'used ring');
    this.usedEventField = (RING + 2 * size) / 2;
    this.availEventField = (RING + VRING_USED_ELEM_SIZE * size) / 2;
    // Start from the ring as found (libvduse does the same on resume); this
    // side is the only writer of the used ring.
    this.publishedUsed = this.usedFields[IDX] ?? 0;
    this.usedFlags = this.usedFields[FLAGS] ?? 0;
    this.signalledUsed = this.publishedUsed;
  }

  /** Next avail ring position to pop (u16); set it to resume a queue. */
  get lastAvailIdx(): number {
    return this.nextAvail;
  }

  set lastAvailIdx(value: number) {
    this.nextAvail = value & 0xffff;
    this.shadowAvail = this.nextAvail;
  }

  /** used.idx as last published by {@link publishUsed}. */
  get usedIdx(): number {
    return this.publishedUsed;
  }

  /** Used elements added but not yet published. */
  get pendingUsed(): number {
    return this.pending;
  }

  /** Chains known to be available (as of the last avail.idx load) and not yet popped. */
  get knownAvailable(): number {
    return (this.shadowAvail - this.nextAvail) & 0xffff;
  }

  /** avail.idx, acquire-loaded: ring entries it covers may be read after. */
  availIdx(): number {
    return loadAcquire(this.availFields, IDX);
  }

  /** Whether the driver has made chains available that were not popped. */
  hasAvailable(): boolean {
    if (this.shadowAvail === this.nextAvail) this.shadowAvail = this.availIdx();
    return this.shadowAvail !== this.nextAvail;
  }

  /**
   * The next available chain, or null when there is none. Advances
   * lastAvailIdx, also for a chain returned with a fault (it must still be
   * completed). Throws {@link VirtqueueError} when the ring is corrupt; the
   * queue then stays broken and every later pop throws the same error.
   */
  popChain(): DescriptorChain | null {
    if (this.broken !== null) throw this.broken;
    if (!this.hasAvailable()) return null;
    try {
      const ahead = (this.shadowAvail - this.nextAvail) & 0xffff;
      if (ahead > this.size) {
        throw new VirtqueueError(
          `avail.idx ${this.shadowAvail} is ${ahead} ahead of last_avail_idx ${this.nextAvail} (queue size ${this.size})`,
        );
      }
      // Ordered after the acquire-load of avail.idx in hasAvailable().
      const head = this.avail.getUint16(RING + 2 * (this.nextAvail & (this.size - 1)), true);
      const chain = readDescriptorChain(this.mem, this.desc, this.size, head, this.limits);
      this.nextAvail = (this.nextAvail + 1) & 0xffff;
      return chain;
    } catch (err) {
      if (err instanceof VirtqueueError) this.broken = err;
      throw err;
    }
  }

  /**
   * Writes the used element {head, len} after those already pending; the
   * driver sees it at the next {@link publishUsed}. `len` is the number of
   * bytes written into the chain's writable buffers (§2.7.8).
   */
  addUsed(head: number, len: number): void {
    if (!Number.isInteger(head) || head < 0 || head >= this.size) throw new RangeError(`used id ${head} out of range`);
    if (!Number.isInteger(len) || len < 0 || len > 0xffff_ffff) throw new RangeError(`used len ${len} is not a u32`);
    if (this.pending >= this.size) throw new RangeError('more used elements than the queue size without publishing');
    const slot = (this.publishedUsed + this.pending) & (this.size - 1);
    const offset = RING + VRING_USED_ELEM_SIZE * slot;
    this.used.setUint32(offset, head, true);
    this.used.setUint32(offset + 4, len, true);
    this.pending++;
  }

  /** Publishes the pending used elements; returns how many. */
  publishUsed(): number {
    const count = this.pending;
    if (count === 0) return 0;
    this.publishedUsed = (this.publishedUsed + count) & 0xffff;
    this.pending = 0;
    this.usedSinceDecision += count;
    // Release: the used elements (plain stores in addUsed) and our reads of
    // the chains' descriptors complete before used.idx moves (§2.7.8: the
    // device MUST set len before updating idx).
    storeRelease(this.usedFields, IDX, this.publishedUsed);
    return count;
  }

  /**
   * Whether the driver wants a used-buffer notification for what was
   * published since the previous decision (§2.7.7). Call after publishUsed;
   * false when nothing was published since the last call.
   */
  needsNotification(): boolean {
    const old = this.signalledUsed;
    const since = this.usedSinceDecision;
    const known = this.signalledValid;
    this.signalledUsed = this.publishedUsed;
    this.usedSinceDecision = 0;
    this.signalledValid = true;
    if (since === 0) return false;
    // The loads below follow the release-store of used.idx in publishUsed:
    // store→load ordered (ring-access.ts), the `virtio_mb` of Linux/vhost.
    if (!this.eventIdx) return (loadAcquire(this.availFields, FLAGS) & VRING_AVAIL_F_NO_INTERRUPT) === 0;
    // Without a previous decision (new or resumed queue) old is unknown; a
    // spurious notification is harmless, a lost one is not (vhost does so).
    if (!known || since >= 0x10000) return true;
    return vringNeedEvent(loadAcquire(this.availFields, this.usedEventField), this.publishedUsed, old);
  }

  /** Asks the driver not to kick (§2.7.10); a hint, kicks may still come. */
  disableNotification(): void {
    // With EVENT_IDX the driver ignores used.flags; a stale avail_event
    // already suppresses kicks, as in vhost_disable_notify.
    if (this.eventIdx || this.usedFlags & VRING_USED_F_NO_NOTIFY) return;
    this.usedFlags |= VRING_USED_F_NO_NOTIFY;
    storeRelease(this.usedFields, FLAGS, this.usedFlags);
  }

  /**
   * Asks the driver to kick for new chains, then re-checks avail.idx.
   * Returns true when chains are available (the caller must drain them:
   * the driver may have added them before it saw notifications enabled).
   */
  enableNotification(): boolean {
    if (this.eventIdx) {
      // Kick when the driver makes the entry at lastAvailIdx available.
      storeRelease(this.usedFields, this.availEventField, this.nextAvail);
    } else if (this.usedFlags & VRING_USED_F_NO_NOTIFY) {
      this.usedFlags &= ~VRING_USED_F_NO_NOTIFY;
      storeRelease(this.usedFields, FLAGS, this.usedFlags);
    }
    // Full barrier: the store above is ordered before this load (store→load,
    // ring-access.ts), so either the driver sees notifications enabled or we
    // see its new avail.idx; no kick is lost (§2.7.10, vhost_enable_notify).
    this.shadowAvail = this.availIdx();
    return this.shadowAvail !== this.nextAvail;
  }
}
