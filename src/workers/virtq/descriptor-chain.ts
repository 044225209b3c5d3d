/**
 * Walking and validating one split-ring descriptor chain (VIRTIO 1.2 §2.7.5
 * descriptor table, §2.7.5.3 indirect descriptors, §2.7.4 message framing),
 * after QEMU `virtqueue_split_pop` and rust-vmm virtio-queue `chain.rs`.
 *
 * Two kinds of failure, as chain.ts defines them:
 * - the ring structure is corrupt → {@link VirtqueueError} (the queue stops);
 * - the structure is sound but a buffer is unusable → the chain comes back
 *   with `fault` set and at most one writable view, its last writable byte.
 * The walk goes on after a fault (without translating) so that corruption
 * later in the chain is still detected, and so that the last writable byte
 * is known.
 */
import {
  VRING_DESC_F_INDIRECT,
  VRING_DESC_F_NEXT,
  VRING_DESC_F_WRITE,
  VRING_DESC_SIZE,
} from '../../shared/virtio.js';
import { VirtqueueError } from './chain.js';
import type { DescriptorChain } from './chain.js';
import { GuestMemoryError } from './guest-memory.js';
import type { GuestMemory } from './guest-memory.js';

export interface ChainLimits {
  /** VIRTIO_F_INDIRECT_DESC was negotiated. */
  readonly indirect: boolean;
  /** Most bytes (readable + writable) one chain may describe. */
  readonly maxChainBytes: number;
}

/**
 * Largest indirect table accepted, in descriptors. Linux virtio_blk stays
 * below 32768 (VIRTIO_BLK_MAX_SG_ELEMS); rust-vmm caps at 2^16. It bounds the
 * walk a hostile table can cost.
 */
export const MAX_INDIRECT_ENTRIES = 0x10000;

/** Descriptor addresses are u64; anything at or past 2^53 is never mapped. */
const ADDR_HIGH_LIMIT = 0x20_0000; // 2^53 / 2^32
const TWO_POW_32 = 0x1_0000_0000;

/** Collects the buffers of one chain while it is walked. */
class ChainBuilder {
  readonly readable: Uint8Array[] = [];
  readonly writable: Uint8Array[] = [];
  readableBytes = 0;
  writableBytes = 0;
  fault: string | null = null;
  private totalBytes = 0;
  private seenWritable = false;
  /** Last non-empty writable descriptor (addr -1: unmappable). */
  private lastWritableAddr = -1;
  private lastWritableLen = 0;

  constructor(private readonly mem: GuestMemory, private readonly limits: ChainLimits) {}

  /** One direct descriptor (`addr` -1 when it is ≥ 2^53). */
  add(addr: number, len: number, flags: number): void {
    const write = (flags & VRING_DESC_F_WRITE) !== 0;
    if (write) this.seenWritable = true;
    else if (this.seenWritable) {
      // §2.7.4.2: device-writable elements come after device-readable ones.
      throw new VirtqueueError('readable descriptor after a writable one');
    }
    if (write && len > 0) {
      this.lastWritableAddr = addr;
      this.lastWritableLen = len;
    }
    if (this.fault !== null) return;
    if (len === 0) return this.setFault('zero-length descriptor');
    if (addr < 0 || addr + len > 2 ** 53) return this.setFault('buffer address beyond 2^53');
    this.totalBytes += len;
    if (this.totalBytes > this.limits.maxChainBytes) {
      return this.setFault(`chain exceeds ${this.limits.maxChainBytes} bytes`);
    }
    // On a fault the views are dropped with the rest (finish), so a partial append is harmless.
    const fault = appendOrFault(this.mem, addr, len, write, write ? this.writable : this.readable);
    if (fault !== null) return this.setFault(fault);
    if (write) this.writableBytes += len;
    else this.readableBytes += len;
  }

  setFault(reason: string): void {
    this.fault ??= reason;
  }

  finish(head: number): DescriptorChain {
    if (this.fault === null) {
      const { readable, writable, readableBytes, writableBytes } = this;
      return { head, readable, writable, readableBytes, writableBytes, fault: null };
    }
    // Keep the chain's last writable byte (the virtio-blk status byte) so the
    // request can still fail with an error status (chain.ts contract).
    let status: Uint8Array[] = [];
    if (this.lastWritableAddr >= 0) {
      const last = this.lastWritableAddr + this.lastWritableLen - 1;
      const views = translateOrFault(this.mem, last, 1, true);
      if (typeof views !== 'string') status = views;
    }
    const writableBytes = status.length;
    return { head, readable: [], writable: status, readableBytes: 0, writableBytes, fault: this.fault };
  }
}

/** Appends the host views of a guest range to `out`; a fault message when it is not mapped, else null. */
function appendOrFault(mem: GuestMemory, addr: number, len: number, write: boolean, out: Uint8Array[]): string | null {
  try {
    mem.translateInto(addr, len, write, out);
    return null;
  } catch (err) {
    if (err instanceof GuestMemoryError) return `0x${addr.toString(16)}+${len}: ${err.message}`;
    throw err;
  }
}

/** Host views of a guest range, or a fault message when it is not mapped. */
function translateOrFault(mem: GuestMemory, addr: number, len: number, write: boolean): Uint8Array[] | string {
  const views: Uint8Array[] = [];
  return appendOrFault(mem, addr, len, write, views) ?? views;
}

/** The u64 `addr` of the descriptor at `offset`, or -1 when it is ≥ 2^53. */
function readAddr(table: DataView, offset: number): number {
  const high = table.getUint32(offset + 4, true);
  if (high >= ADDR_HIGH_LIMIT) return -1;
  return high * TWO_POW_32 + table.getUint32(offset, true);
}

/** An indirect table: read through `view`, its first descriptor at byte `base`. */
interface TableRef {
  view: DataView;
  base: number;
}

/**
 * One DataView over the whole mapping the last indirect table was found in.
 * Every table of a queue normally lies in the same mapping (the kernel's
 * bounce buffer), so a request costs no DataView of its own; a table in
 * another (or a re-mapped) buffer replaces the cached view.
 */
let cachedView: DataView | null = null;

function wholeBufferView(buffer: ArrayBufferLike): DataView {
  if (cachedView === null || cachedView.buffer !== buffer) cachedView = new DataView(buffer);
  return cachedView;
}

/**
 * Checks the descriptor that points to an indirect table (§2.7.5.3.1) and
 * maps the table; a fault message when the table's memory is not mapped.
 */
function openIndirectTable(
  mem: GuestMemory,
  addr: number,
  len: number,
  flags: number,
  limits: ChainLimits,
  nested: boolean,
): TableRef | string {
  if (!limits.indirect) throw new VirtqueueError('INDIRECT descriptor but VIRTIO_F_INDIRECT_DESC not negotiated');
  if (nested) throw new VirtqueueError('INDIRECT descriptor inside an indirect table');
  if (flags & VRING_DESC_F_NEXT) throw new VirtqueueError('INDIRECT descriptor with NEXT set');
  if (len === 0 || len % VRING_DESC_SIZE !== 0) {
    throw new VirtqueueError(`indirect table length ${len} is not a non-zero multiple of ${VRING_DESC_SIZE}`);
  }
  if (len / VRING_DESC_SIZE > MAX_INDIRECT_ENTRIES) {
    throw new VirtqueueError(`indirect table of ${len / VRING_DESC_SIZE} descriptors (max ${MAX_INDIRECT_ENTRIES})`);
  }
  if (addr < 0) return 'indirect table address beyond 2^53';
  // Usually the table lies in the mapping the queue last used: read it in place, no view made.
  const mapped = mem.locate(addr, len, false);
  if (mapped !== null) return { view: wholeBufferView(mapped.buffer), base: mapped.byteOffset + (addr - mapped.start) };
  const views = translateOrFault(mem, addr, len, false);
  if (typeof views === 'string') return `indirect table ${views}`;
  const first = views[0];
  if (views.length === 1 && first !== undefined) return { view: wholeBufferView(first.buffer), base: first.byteOffset };
  // The table crosses mappings: read it from one copy.
  const copy = new Uint8Array(len);
  let at = 0;
  for (const view of views) {
    copy.set(view, at);
    at += view.byteLength;
  }
  return { view: new DataView(copy.buffer), base: 0 };
}

/**
 * Reads the chain starting at `head` in the descriptor table `table` of a
 * queue of `size` entries. Accepts 0..n direct descriptors followed by one
 * INDIRECT descriptor (§2.7.5.3). Counting descriptors against the table's
 * entry count bounds the walk and detects loops (§2.7.5.2: no chain longer
 * than the queue size).
 */
export function readDescriptorChain(
  mem: GuestMemory,
  table: DataView,
  size: number,
  head: number,
  limits: ChainLimits,
): DescriptorChain {
  if (head >= size) throw new VirtqueueError(`head ${head} out of range (queue size ${size})`);
  const chain = new ChainBuilder(mem, limits);
  let current = table;
  let base = 0;
  let entries = size;
  let nested = false;
  let index = head;
  for (let count = 1; ; count++) {
    if (count > entries) {
      const where = nested ? `indirect table of ${entries}` : `queue size ${size}`;
      throw new VirtqueueError(`descriptor chain longer than the ${where} (loop?)`);
    }
    const offset = base + index * VRING_DESC_SIZE;
    const addr = readAddr(current, offset);
    const len = current.getUint32(offset + 8, true);
    const flags = current.getUint16(offset + 12, true);
    if (flags & VRING_DESC_F_INDIRECT) {
      // The WRITE flag of this descriptor is ignored (§2.7.5.3.2).
      const indirect = openIndirectTable(mem, addr, len, flags, limits, nested);
      if (typeof indirect === 'string') {
        chain.setFault(indirect);
        break;
      }
      current = indirect.view;
      base = indirect.base;
      entries = len / VRING_DESC_SIZE;
      nested = true;
      index = 0;
      count = 0;
      continue;
    }
    chain.add(addr, len, flags);
    if (!(flags & VRING_DESC_F_NEXT)) break;
    index = current.getUint16(offset + 14, true);
    if (index >= entries) {
      throw new VirtqueueError(`next ${index} out of range (${nested ? 'indirect table' : 'queue'} of ${entries})`);
    }
  }
  return chain.finish(head);
}
