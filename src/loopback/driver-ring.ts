/**
 * The DRIVER side of a split virtqueue (VIRTIO 1.2 §2.7.13 supplying
 * buffers, §2.7.14 receiving used buffers), modelled on Linux
 * `virtio_ring.c`. The simulated kernel drives the product with it, and unit
 * tests use it as the mock driver; the raw helpers at the end let tests build
 * hostile rings. Pure: no node:*, no addon.
 *
 * Memory ordering mirrors the device side (src/workers/virtq/ring-access.ts):
 * every ordering-relevant u16 field (flags, idx, used_event, avail_event) is
 * accessed with Atomics on a Uint16Array; Atomics.store is a release (and on
 * x86-64 a full barrier), Atomics.load an acquire, and a store followed by a
 * load is ordered store→load. Plain DataView accesses are used for
 * descriptors, ring entries and used elements only.
 */
import {
  VIRTQ_MAX_SIZE,
  VRING_AVAIL_F_NO_INTERRUPT,
  VRING_DESC_F_INDIRECT,
  VRING_DESC_F_NEXT,
  VRING_DESC_F_WRITE,
  VRING_DESC_SIZE,
  VRING_USED_ELEM_SIZE,
  VRING_USED_F_NO_NOTIFY,
} from '../shared/virtio.js';
import { RingMemory } from './ring-memory.js';
import type { DriverMemory, RawDescriptor } from './ring-memory.js';
import { vringNeedEvent } from './vring-layout.js';
import type { VringLayout } from './vring-layout.js';

export type { DriverMemory, RawDescriptor } from './ring-memory.js';

/** One buffer of a chain, as the driver sees it. */
export interface Segment {
  readonly iova: number;
  readonly len: number;
  /** Device-writable (VRING_DESC_F_WRITE). */
  readonly write: boolean;
}

export interface AddChainOptions {
  /**
   * Put the segments in an indirect table at `tableIova` (16 bytes per
   * segment), except the first `direct` ones (default 0), which are chained
   * in the ring before the INDIRECT descriptor (§2.7.5.3 allows it).
   */
  readonly indirect?: { readonly tableIova: number; readonly direct?: number };
}

export interface DriverRingOptions {
  /** VIRTIO_F_EVENT_IDX negotiated. */
  readonly eventIdx?: boolean;
  /** Start avail.idx, used.idx and both event fields here (u16). */
  readonly initialIdx?: number;
}

/** A used element returned by the device. */
export interface UsedElement {
  readonly id: number;
  readonly len: number;
}

export class DriverRing {
  readonly size: number;
  readonly eventIdx: boolean;
  readonly layout: VringLayout;
  private readonly m: RingMemory;
  /** Free descriptor indices (a stack; Linux keeps them chained by next). */
  private readonly free: number[] = [];
  /** Descriptors of each in-flight chain, by head. */
  private readonly inFlight: (number[] | undefined)[];
  private availShadow: number;
  private availPublished: number;
  /** avail.idx at the previous kick decision (Linux: avail_idx_shadow - num_added). */
  private availAtKick: number;
  private lastUsed: number;
  private availFlags = 0;
  private interrupts = true;

  constructor(mem: DriverMemory, layout: VringLayout, options: DriverRingOptions = {}) {
    const { size } = layout;
    if (!Number.isInteger(size) || size < 1 || size > VIRTQ_MAX_SIZE || (size & (size - 1)) !== 0) {
      throw new RangeError(`queue size ${size} is not a power of 2 in 1..${VIRTQ_MAX_SIZE}`);
    }
    this.size = size;
    this.layout = layout;
    this.eventIdx = options.eventIdx ?? false;
    this.m = new RingMemory(mem);
    this.inFlight = new Array<number[] | undefined>(size);
    for (let i = size - 1; i >= 0; i--) this.free.push(i);
    const start = (options.initialIdx ?? 0) & 0xffff;
    this.availShadow = this.availPublished = this.availAtKick = this.lastUsed = start;
    this.initRings(start);
  }

  /** Zeroed rings (Linux allocates them zeroed), indices at `start`. */
  private initRings(start: number): void {
    const { size, descAddr, driverAddr, deviceAddr } = this.layout;
    this.m.fill(descAddr, VRING_DESC_SIZE * size, 0);
    this.m.fill(driverAddr, 6 + 2 * size, 0);
    this.m.fill(deviceAddr, 6 + VRING_USED_ELEM_SIZE * size, 0);
    this.m.store16(driverAddr + 2, start);
    this.m.store16(deviceAddr + 2, start);
    this.m.store16(this.usedEventAddr, start);
    this.m.store16(this.availEventAddr, start);
  }

  private get usedEventAddr(): number {
    return this.layout.driverAddr + 4 + 2 * this.size;
  }

  private get availEventAddr(): number {
    return this.layout.deviceAddr + 4 + VRING_USED_ELEM_SIZE * this.size;
  }

  /** Free descriptors. */
  get numFree(): number {
    return this.free.length;
  }

  /** used.idx up to which the driver has consumed used elements. */
  get lastUsedIdx(): number {
    return this.lastUsed;
  }

  /**
   * Builds a chain from `segments` (in order; no validation, so tests can
   * build bad ones) and puts its head in the avail ring, unpublished.
   * Returns the head. Throws when descriptors run out.
   */
  addChain(segments: readonly Segment[], options: AddChainOptions = {}): number {
    const table = options.indirect;
    const direct = table === undefined ? segments.length : (table.direct ?? 0);
    const needed = direct + (table === undefined ? 0 : 1);
    if (segments.length === 0 || direct > segments.length || (table && direct === segments.length)) {
      throw new RangeError('a chain needs at least one segment (and one in an indirect table)');
    }
    if (needed > this.free.length) throw new Error(`ring full: ${needed} descriptors needed, ${this.free.length} free`);
    if (table !== undefined) this.writeIndirectTable(table.tableIova, segments.slice(direct)); // may throw: first
    const descs = this.free.splice(this.free.length - needed, needed).reverse();
    for (let i = 0; i < direct; i++) {
      const seg = segments[i];
      if (seg !== undefined) this.writeDescriptor(descs[i] ?? 0, segmentDesc(seg, descs[i + 1]));
    }
    if (table !== undefined) {
      const len = VRING_DESC_SIZE * (segments.length - direct);
      this.writeDescriptor(descs[direct] ?? 0, { addr: table.tableIova, len, flags: VRING_DESC_F_INDIRECT, next: 0 });
    }
    const head = descs[0] ?? 0;
    this.inFlight[head] = descs;
    this.putAvailHead(head);
    return head;
  }

  private writeIndirectTable(tableIova: number, segments: readonly Segment[]): void {
    segments.forEach((seg, j) => {
      const next = j + 1 < segments.length ? j + 1 : undefined;
      this.writeDescriptorAt(tableIova + VRING_DESC_SIZE * j, segmentDesc(seg, next));
    });
  }

  /** Release-stores avail.idx over the added heads; returns how many. */
  publishAvail(): number {
    const count = (this.availShadow - this.availPublished) & 0xffff;
    this.availPublished = this.availShadow;
    // Release: descriptors and ring entries are visible before the index
    // (§2.7.13.3; Linux virtio_wmb).
    this.m.store16(this.layout.driverAddr + 2, this.availPublished);
    return count;
  }

  /**
   * Whether the device wants a kick for what was published since the last
   * decision (§2.7.10; Linux virtqueue_kick_prepare_split).
   */
  kickNeeded(): boolean {
    const old = this.availAtKick;
    const now = this.availPublished;
    this.availAtKick = now;
    if (old === now) return false;
    // Loads ordered after the store of avail.idx (store→load, virtio_mb).
    if (this.eventIdx) return vringNeedEvent(this.m.load16(this.availEventAddr), now, old);
    return (this.m.load16(this.layout.deviceAddr) & VRING_USED_F_NO_NOTIFY) === 0;
  }

  /**
   * Collects the used elements published since the last call and frees
   * their descriptors. Throws when the device returns an id not in flight.
   */
  getUsed(): UsedElement[] {
    // Acquire: the used elements are read after used.idx (§2.7.14).
    const usedIdx = this.m.load16(this.layout.deviceAddr + 2);
    if (((usedIdx - this.lastUsed) & 0xffff) > this.size) throw new Error(`used.idx ${usedIdx} jumped past the ring`);
    const out: UsedElement[] = [];
    while (this.lastUsed !== usedIdx) {
      const element = this.usedElement(this.lastUsed & (this.size - 1));
      const descs = this.inFlight[element.id];
      if (descs === undefined) throw new Error(`device returned id ${element.id}, which is not in flight`);
      this.inFlight[element.id] = undefined;
      this.free.push(...descs);
      out.push(element);
      this.lastUsed = (this.lastUsed + 1) & 0xffff;
    }
    // Ask for an interrupt at the next entry (Linux virtqueue_get_buf_ctx_split).
    if (this.eventIdx && this.interrupts && out.length > 0) this.m.store16(this.usedEventAddr, this.lastUsed);
    return out;
  }

  /** Suppresses used-buffer notifications (§2.7.7); a hint to the device. */
  disableInterrupts(): void {
    this.interrupts = false;
    if (this.eventIdx) {
      // An event 2^15 ahead cannot be reached while ≤ 32768 chains are in
      // flight (Linux writes 0 instead; either may cause a spurious IRQ later).
      this.m.store16(this.usedEventAddr, this.lastUsed + 0x8000);
    } else {
      this.availFlags |= VRING_AVAIL_F_NO_INTERRUPT;
      this.m.store16(this.layout.driverAddr, this.availFlags);
    }
  }

  /**
   * Re-enables used-buffer notifications and re-checks used.idx; true when
   * used elements are already waiting (poll them: no interrupt may come).
   */
  enableInterrupts(): boolean {
    this.interrupts = true;
    if (this.eventIdx) this.m.store16(this.usedEventAddr, this.lastUsed);
    else {
      this.availFlags &= ~VRING_AVAIL_F_NO_INTERRUPT;
      this.m.store16(this.layout.driverAddr, this.availFlags);
    }
    // store→load ordered: no completion slips between (Linux virtqueue_enable_cb).
    return this.m.load16(this.layout.deviceAddr + 2) !== this.lastUsed;
  }

  /** Writes used_event (raw; EVENT_IDX). */
  setUsedEvent(idx: number): void {
    this.m.store16(this.usedEventAddr, idx);
  }

  // ---- raw helpers for tests and hostile rings -------------------------

  /** Writes descriptor `index` of the ring's table. */
  writeDescriptor(index: number, desc: RawDescriptor): void {
    this.writeDescriptorAt(this.layout.descAddr + VRING_DESC_SIZE * index, desc);
  }

  /** Writes a descriptor anywhere (an indirect table entry, say). */
  writeDescriptorAt(iova: number, desc: RawDescriptor): void {
    this.m.writeDescriptor(iova, desc);
  }

  /** Puts any head in the next avail ring slot (unpublished). */
  putAvailHead(head: number): void {
    this.m.view.setUint16(this.m.offset(this.layout.driverAddr + 4 + 2 * (this.availShadow & (this.size - 1)), 2), head, true);
    this.availShadow = (this.availShadow + 1) & 0xffff;
  }

  /** Stores any value in avail.idx, bypassing the driver's bookkeeping. */
  setAvailIdx(idx: number): void {
    this.m.store16(this.layout.driverAddr + 2, idx);
  }

  /** Stores any value in avail.flags, bypassing the driver's bookkeeping. */
  setAvailFlags(flags: number): void {
    this.m.store16(this.layout.driverAddr, flags);
  }

  /** Reads a field of the used ring (for assertions). */
  usedFlags(): number {
    return this.m.load16(this.layout.deviceAddr);
  }

  usedIdx(): number {
    return this.m.load16(this.layout.deviceAddr + 2);
  }

  availEvent(): number {
    return this.m.load16(this.availEventAddr);
  }

  usedEvent(): number {
    return this.m.load16(this.usedEventAddr);
  }

  /** The used element in ring slot `slot`. */
  usedElement(slot: number): UsedElement {
    const at = this.m.offset(this.layout.deviceAddr + 4 + VRING_USED_ELEM_SIZE * slot, VRING_USED_ELEM_SIZE);
    return { id: this.m.view.getUint32(at, true), len: this.m.view.getUint32(at + 4, true) };
  }
}

function segmentDesc(seg: Segment, next: number | undefined): RawDescriptor {
  const flags = (seg.write ? VRING_DESC_F_WRITE : 0) | (next === undefined ? 0 : VRING_DESC_F_NEXT);
  return { addr: seg.iova, len: seg.len, flags, next: next ?? 0 };
}
