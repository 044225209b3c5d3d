/**
 * A virtio-blk driver in TypeScript for the loopback kernel: probes the
 * device with the same status sequence as virtio_vdpa + virtio_blk (0, 1, 3,
 * FEATURES_OK, DRIVER_OK), lays out split rings in guest memory, submits
 * requests through direct or indirect chains, kicks, and completes requests
 * from IRQ eventfds. Embedders use it to test backends without root.
 */
import { native, type FdWatcher } from '../shared/native.js';
import { decodeBlkConfig, encodeBlkDiscardSegment, encodeBlkOutHdr, type VirtioBlkConfig } from '../shared/layouts/index.js';
import {
  VIRTIO_BLK_F_MQ, VIRTIO_BLK_OUTHDR_SIZE, VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC,
  VIRTIO_BLK_ID_BYTES, VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_WRITE_ZEROES, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP, VRING_DESC_SIZE, hasFeature,
} from '../shared/virtio.js';
import { DriverRing, type Segment } from './driver-ring.js';
import { vringLayout, vringSize } from './vring-layout.js';
import type { LoopbackDevice } from './kernel.js';

export interface LoopbackDriverOptions {
  /** Negotiate VIRTIO_F_INDIRECT_DESC when offered (default true). */
  indirect?: boolean;
  /** Negotiate VIRTIO_F_EVENT_IDX when offered (default true). */
  eventIdx?: boolean;
  /** Queues to use (default: all the device has). */
  queues?: number;
  /** Ring size (default: the device's maximum). */
  queueSize?: number;
  /** Largest data descriptor; longer buffers are split (default 64 KiB). */
  segmentSize?: number;
  /** Features to acknowledge instead of the negotiated ones (hostile tests). */
  forceFeatures?: bigint;
}

/** One request as the driver builds it. */
export interface BlkRequestSpec {
  type: number;
  sector?: bigint | number;
  /** Device-readable data after the header. */
  out?: Uint8Array;
  /** Device-writable data bytes before the status byte. */
  inLength?: number;
}

export interface BlkCompletion {
  status: number;
  /** The used-ring length the device reported. */
  usedLen: number;
  /** The device-writable data bytes (without the status). */
  data: Uint8Array;
}

interface Pending {
  resolve(c: BlkCompletion): void;
  iova: number;
  size: number;
  inAt: number;
  inLength: number;
  statusAt: number;
  table: { iova: number; size: number } | null;
}

interface DriverQueue {
  ring: DriverRing;
  ringIova: number;
  ringBytes: number;
  pending: Map<number, Pending>;
  waiters: Array<() => void>;
  watcher: FdWatcher;
  publishQueued: boolean;
}

const DRIVER_STATUS = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

export class LoopbackBlkDriver {
  features = 0n;
  config: Required<VirtioBlkConfig> | null = null;
  private queues: DriverQueue[] = [];
  /** Recycled request buffers and indirect tables, by size class. */
  private readonly freeBuffers = new Map<string, number[]>();
  private readonly bufferKeys = new Map<number, string>();
  private readonly eventfdBuf = new Uint8Array(8);

  constructor(readonly device: LoopbackDevice, private readonly options: LoopbackDriverOptions = {}) {}

  /** Probes like virtio_vdpa + virtio_blk; throws if the device refuses the features. */
  async probe(): Promise<void> {
    const d = this.device;
    await d.setStatus(0);
    await d.setStatus(VIRTIO_CONFIG_S_ACKNOWLEDGE);
    await d.setStatus(DRIVER_STATUS);
    this.features = this.options.forceFeatures ?? this.negotiate(d.offeredFeatures);
    d.setDriverFeatures(this.features);
    if (!(await d.setStatus(DRIVER_STATUS | VIRTIO_CONFIG_S_FEATURES_OK))) {
      throw new Error('device refused the features (FEATURES_OK failed)');
    }
    this.config = decodeBlkConfig(d.readConfig());
    const count = hasFeature(this.features, VIRTIO_BLK_F_MQ)
      ? Math.min(this.config.numQueues, this.options.queues ?? this.config.numQueues) : 1;
    for (let q = 0; q < count; q++) this.queues.push(this.setupQueue(q));
    await d.setStatus(DRIVER_STATUS | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
  }

  /** Resets the device (status 0) and forgets the rings; requests still pending never complete. */
  async reset(): Promise<void> {
    await this.device.setStatus(0);
    this.teardown();
  }

  get queueCount(): number {
    return this.queues.length;
  }

  /** The driver ring of queue `q` (for tests that write hostile descriptors). */
  ring(q: number): DriverRing {
    return this.queue(q).ring;
  }

  /** Submits one request on queue `q` and resolves when the device completed it. */
  async submit(q: number, spec: BlkRequestSpec): Promise<BlkCompletion> {
    const dq = this.queue(q);
    const outLength = spec.out?.length ?? 0;
    const inLength = spec.inLength ?? 0;
    const mem = this.device.memory;
    const size = VIRTIO_BLK_OUTHDR_SIZE + outLength + inLength + 1;
    const segments = this.segments(size, outLength, inLength);
    const indirect = hasFeature(this.features, VIRTIO_F_INDIRECT_DESC) && segments.length > 1;
    const needed = indirect ? 1 : segments.length;
    while (dq.ring.numFree < needed) await new Promise<void>((r) => dq.waiters.push(r));
    const iova = this.allocBuffer(size, 64);
    mem.write(iova, encodeBlkOutHdr({ type: spec.type, ioprio: 0, sector: BigInt(spec.sector ?? 0) }));
    if (spec.out !== undefined) mem.write(iova + VIRTIO_BLK_OUTHDR_SIZE, spec.out);
    const inAt = iova + VIRTIO_BLK_OUTHDR_SIZE + outLength;
    const statusAt = inAt + inLength;
    mem.fill(inAt, inLength + 1, 0xa5); // stale bytes, as the kernel's bounce buffer would have
    const chain = segments.map((s) => ({ ...s, iova: iova + s.iova }));
    let table: Pending['table'] = null;
    if (indirect) {
      const tableSize = chain.length * VRING_DESC_SIZE;
      table = { iova: this.allocBuffer(tableSize, 16, this.regionOf(dq.ringIova)), size: tableSize };
    }
    const done = new Promise<BlkCompletion>((resolve) => {
      const head = dq.ring.addChain(chain, table === null ? {} : { indirect: { tableIova: table.iova } });
      dq.pending.set(head, { resolve, iova, size, inAt, inLength, statusAt, table });
    });
    // One publish and at most one kick for every request submitted in this turn
    // of the event loop (Linux batches the same way with bd->last).
    if (!dq.publishQueued) {
      dq.publishQueued = true;
      queueMicrotask(() => this.publish(q, dq));
    }
    return done;
  }

  /** VIRTIO_BLK_T_IN: reads `length` bytes at `sector`. */
  read(q: number, sector: number, length: number): Promise<BlkCompletion> {
    return this.submit(q, { type: VIRTIO_BLK_T_IN, sector, inLength: length });
  }

  /** VIRTIO_BLK_T_OUT. */
  write(q: number, sector: number, data: Uint8Array): Promise<BlkCompletion> {
    return this.submit(q, { type: VIRTIO_BLK_T_OUT, sector, out: data });
  }

  /** VIRTIO_BLK_T_FLUSH. */
  flush(q: number): Promise<BlkCompletion> {
    return this.submit(q, { type: VIRTIO_BLK_T_FLUSH });
  }

  /** VIRTIO_BLK_T_GET_ID: the 20-byte serial. */
  getId(q: number): Promise<BlkCompletion> {
    return this.submit(q, { type: VIRTIO_BLK_T_GET_ID, inLength: VIRTIO_BLK_ID_BYTES });
  }

  /** VIRTIO_BLK_T_DISCARD over `ranges` (sector, count). */
  discard(q: number, ranges: ReadonlyArray<readonly [number, number]>): Promise<BlkCompletion> {
    return this.submit(q, { type: VIRTIO_BLK_T_DISCARD, out: segmentsOf(ranges, 0) });
  }

  /** VIRTIO_BLK_T_WRITE_ZEROES over `ranges`, with the UNMAP flag when `unmap`. */
  writeZeroes(q: number, ranges: ReadonlyArray<readonly [number, number]>, unmap = false): Promise<BlkCompletion> {
    return this.submit(q, { type: VIRTIO_BLK_T_WRITE_ZEROES,
      out: segmentsOf(ranges, unmap ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0) });
  }

  /** Stops watching IRQs and frees the rings (after a reset or when done). */
  close(): void {
    this.teardown();
  }

  /**
   * Gives queue `q` to a native driver (bench/native-driver.ts): stops
   * watching its IRQ eventfd, so the native side alone consumes interrupts,
   * and reserves `bufferBytes` of guest memory, in the ring's region, for its
   * requests. The queue must be idle; submit() must not be used on it
   * afterwards (this ring's bookkeeping no longer follows the ring).
   */
  handOff(q: number, bufferBytes: number): NativeQueueHandle {
    const dq = this.queue(q);
    if (dq.pending.size > 0) throw new Error(`queue ${q} has ${dq.pending.size} requests in flight`);
    const vq = this.device.vqs[q]!;
    if (vq.kickFd < 0) throw new Error(`queue ${q} has no kick eventfd (is the device serving it?)`);
    const mem = this.device.memory;
    const regionIndex = this.regionOf(dq.ringIova);
    const region = mem.regions[regionIndex]!;
    const bufferIova = mem.alloc(bufferBytes, 4096, regionIndex);
    dq.watcher.close();
    const { layout } = dq.ring;
    let released = false;
    return {
      queue: q, size: layout.size, descAddr: layout.descAddr, driverAddr: layout.driverAddr,
      deviceAddr: layout.deviceAddr, eventIdx: dq.ring.eventIdx,
      indirect: hasFeature(this.features, VIRTIO_F_INDIRECT_DESC), kickFd: vq.kickFd, irqFd: vq.irqFd,
      region: { fd: region.fd, start: region.start, size: region.size, buffer: region.buffer },
      bufferIova, bufferBytes,
      // Nothing is in flight, so the published avail.idx is the ring's position.
      availIdx: new DataView(region.buffer).getUint16(layout.driverAddr + 2 - region.start, true),
      lastUsedIdx: dq.ring.lastUsedIdx,
      release: () => {
        if (released) return;
        released = true;
        mem.release(bufferIova, bufferBytes);
      },
    };
  }

  private negotiate(offered: bigint): bigint {
    let f = offered;
    if (this.options.indirect === false) f &= ~(1n << BigInt(VIRTIO_F_INDIRECT_DESC));
    if (this.options.eventIdx === false) f &= ~(1n << BigInt(VIRTIO_F_EVENT_IDX));
    return f;
  }

  /** Header (readable), data split into segments, status (writable); IOVAs relative to the buffer. */
  private segments(size: number, outLength: number, inLength: number): Segment[] {
    const max = this.options.segmentSize ?? 65536;
    const out: Segment[] = [{ iova: 0, len: VIRTIO_BLK_OUTHDR_SIZE, write: false }];
    const split = (from: number, length: number, write: boolean): void => {
      for (let at = 0; at < length; at += max) out.push({ iova: from + at, len: Math.min(max, length - at), write });
    };
    split(VIRTIO_BLK_OUTHDR_SIZE, outLength, false);
    split(VIRTIO_BLK_OUTHDR_SIZE + outLength, inLength, true);
    out.push({ iova: size - 1, len: 1, write: true });
    return out;
  }

  private setupQueue(q: number): DriverQueue {
    const d = this.device;
    const size = this.options.queueSize ?? d.vqs[q]!.maxSize;
    const ringBytes = vringSize(size, d.vqAlign);
    const ringIova = d.memory.alloc(ringBytes, 4096, 0);
    const region = d.memory.regionAt(ringIova)!;
    const layout = vringLayout(ringIova, size, d.vqAlign);
    const ring = new DriverRing({ bytes: region.bytes, base: region.start }, layout,
      { eventIdx: hasFeature(this.features, VIRTIO_F_EVENT_IDX) });
    d.setVq(q, { num: size, descAddr: layout.descAddr, driverAddr: layout.driverAddr, deviceAddr: layout.deviceAddr,
      availIndex: 0, ready: true });
    const dq: DriverQueue = { ring, ringIova, ringBytes, pending: new Map(), waiters: [], watcher: null!,
      publishQueued: false };
    const n = native();
    dq.watcher = n.watch(d.vqs[q]!.irqFd, n.constants.UV_READABLE, () => this.onIrq(q, dq));
    return dq;
  }

  /** vring_interrupt: collect used buffers until none is left after re-enabling. */
  private onIrq(q: number, dq: DriverQueue): void {
    native().read(this.device.vqs[q]!.irqFd, this.eventfdBuf);
    do {
      for (const used of dq.ring.getUsed()) this.complete(dq, used.id, used.len);
    } while (dq.ring.enableInterrupts());
    const waiters = dq.waiters.splice(0);
    for (const w of waiters) w();
  }

  private complete(dq: DriverQueue, head: number, usedLen: number): void {
    const p = dq.pending.get(head);
    if (p === undefined) return;
    dq.pending.delete(head);
    const mem = this.device.memory;
    const status = mem.read(p.statusAt, 1)[0]!;
    const data = mem.read(p.inAt, p.inLength);
    this.releaseBuffer(p.iova, p.size);
    if (p.table !== null) this.releaseBuffer(p.table.iova, p.table.size);
    p.resolve({ status, usedLen, data });
  }

  private publish(q: number, dq: DriverQueue): void {
    dq.publishQueued = false;
    if (!this.queues.includes(dq)) return;
    dq.ring.publishAvail();
    if (dq.ring.kickNeeded()) this.device.kick(q);
  }

  /** Request buffers are recycled by size, so the general allocator stays off the hot path. */
  private allocBuffer(size: number, align: number, region?: number): number {
    const key = `${size}:${align}:${region ?? -1}`;
    const cached = this.freeBuffers.get(key)?.pop();
    if (cached !== undefined) return cached;
    const iova = this.device.memory.alloc(size, align, region);
    this.bufferKeys.set(iova, key);
    return iova;
  }

  private releaseBuffer(iova: number, size: number): void {
    const key = this.bufferKeys.get(iova);
    if (key === undefined) {
      this.device.memory.release(iova, size);
      return;
    }
    let list = this.freeBuffers.get(key);
    if (list === undefined) this.freeBuffers.set(key, (list = []));
    list.push(iova);
  }

  private regionOf(iova: number): number {
    return this.device.memory.regions.findIndex((r) => iova >= r.start && iova < r.start + r.size);
  }

  private queue(q: number): DriverQueue {
    const dq = this.queues[q];
    if (dq === undefined) throw new RangeError(`queue ${q} is not set up`);
    return dq;
  }

  private teardown(): void {
    for (const dq of this.queues.splice(0)) {
      dq.watcher.close();
      this.device.memory.release(dq.ringIova, dq.ringBytes);
      for (const p of dq.pending.values()) {
        this.device.memory.release(p.iova, p.size);
        if (p.table !== null) this.device.memory.release(p.table.iova, p.table.size);
      }
    }
    for (const [key, blocks] of this.freeBuffers) {
      const size = Number(key.split(':')[0]);
      for (const iova of blocks) this.device.memory.release(iova, size);
    }
    this.freeBuffers.clear();
    this.bufferKeys.clear();
  }
}

/** Discard / write-zeroes segments for `ranges` of (sector, count). */
function segmentsOf(ranges: ReadonlyArray<readonly [number, number]>, flags: number): Uint8Array {
  const out = new Uint8Array(ranges.length * 16);
  ranges.forEach(([sector, numSectors], i) => {
    out.set(encodeBlkDiscardSegment({ sector: BigInt(sector), numSectors, flags }), i * 16);
  });
  return out;
}

/** A queue given to a native driver by {@link LoopbackBlkDriver.handOff}; IOVAs are numbers. */
export interface NativeQueueHandle {
  readonly queue: number;
  readonly size: number;
  readonly descAddr: number;
  readonly driverAddr: number;
  readonly deviceAddr: number;
  /** VIRTIO_F_EVENT_IDX / VIRTIO_F_INDIRECT_DESC negotiated. */
  readonly eventIdx: boolean;
  readonly indirect: boolean;
  /** The device's kick eventfd (the loopback kernel's reference): write a u64 1 to kick. */
  readonly kickFd: number;
  /** The queue's interrupt eventfd (non-blocking), no longer read by this driver. */
  readonly irqFd: number;
  /** The memfd region holding the ring and the buffer area (file offset = IOVA). */
  readonly region: { readonly fd: number; readonly start: number; readonly size: number; readonly buffer: ArrayBuffer };
  /** The reserved buffer area (4096-aligned). */
  readonly bufferIova: number;
  readonly bufferBytes: number;
  /** Ring position with nothing in flight; whoever drives the queue keeps it current. */
  availIdx: number;
  lastUsedIdx: number;
  /** Returns the buffer area to guest memory (the queue stays handed off). */
  release(): void;
}
