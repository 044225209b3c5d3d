/**
 * Building hostile descriptor chains on a live loopback queue.
 *
 * The approach: descriptors are RESERVED through the driver's own
 * `DriverRing.addChain` (placeholder segments), which puts the head in the
 * next avail slot and marks the chain in flight, and then OVERWRITTEN with
 * raw `writeDescriptor` calls before `publishAvail`. Why: the device answers
 * asynchronously and raises the queue's IRQ, whose handler
 * (LoopbackBlkDriver.onIrq) runs `DriverRing.getUsed()`, which throws for an
 * id that is not in flight. A reserved chain is in flight, so the handler
 * takes the used element back, frees the descriptors and ignores the head
 * (it is not one of the driver's pending requests). The test then reads the
 * used element raw (`usedIdx` / `usedElement`, which consume nothing) and the
 * status byte straight from guest memory.
 *
 * Only the reserved indices are rewritten, so the driver's free-descriptor
 * bookkeeping stays right and normal requests can follow on the same queue.
 * Heads that are out of range go in with `putAvailHead` (the device stops
 * the queue before anything could be completed).
 */
import type { DriverRing, RawDescriptor, UsedElement } from '../../src/loopback/driver-ring.js';
import type { LoopbackDevice } from '../../src/loopback/kernel.js';
import type { LoopbackGuestMemory } from '../../src/loopback/guest-memory.js';
import { encodeBlkOutHdr } from '../../src/shared/layouts/index.js';
import { VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, VRING_DESC_SIZE } from '../../src/shared/virtio.js';
import type { DeviceServer } from '../../src/control/device-server.js';
import type { Fixture } from './loopback-fixture.js';

/** An IOVA no loopback region ever covers. */
export const UNMAPPED = 0x7fff_0000_0000;

/** One part of a direct chain; NEXT is added between parts, WRITE when `write`. */
export interface Part {
  addr: number | bigint;
  len: number;
  write?: boolean;
  /** Extra flags ORed in (INDIRECT, or NEXT on the last part to break it). */
  flags?: number;
  /** Overrides the next index the builder would write. */
  next?: number;
}

/** Polls `cond` every 2 ms; throws after `timeoutMs` (no test may hang). */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** The state of queue `q` as the control plane reports it (-1 when it has no worker). */
export function queueState(server: DeviceServer, q: number): number {
  return server.stats().find((s) => s.queue === q)?.state ?? -1;
}

export class HostileRing {
  private readonly allocations: Array<[number, number]> = [];
  private scratch = -1;
  /** Head of the chain last built with {@link chain}. */
  lastHead = -1;

  constructor(private readonly f: Fixture, readonly q: number) {}

  get device(): LoopbackDevice {
    return this.f.driver.device;
  }

  get mem(): LoopbackGuestMemory {
    return this.device.memory;
  }

  /** The driver's ring of this queue (it changes after a reset + probe). */
  get ring(): DriverRing {
    return this.f.driver.ring(this.q);
  }

  /** `len` bytes of guest memory filled with `fill` (in region `region` when given). */
  buffer(len: number, fill = 0xa5, region?: number): number {
    const iova = this.mem.alloc(Math.max(len, 1), 16, region);
    this.allocations.push([iova, Math.max(len, 1)]);
    this.mem.fill(iova, Math.max(len, 1), fill);
    return iova;
  }

  /** A 16-byte virtio_blk_outhdr in guest memory. */
  header(type: number, sector: number | bigint = 0): number {
    const iova = this.buffer(16);
    this.mem.write(iova, encodeBlkOutHdr({ type, ioprio: 0, sector: BigInt(sector) }));
    return iova;
  }

  /**
   * Reserves `n` descriptors as one in-flight chain whose head is already in
   * the next avail slot (unpublished); returns their indices, head first.
   */
  reserve(n: number): number[] {
    if (this.scratch < 0) this.scratch = this.buffer(1);
    const head = this.ring.addChain(Array.from({ length: n }, () => ({ iova: this.scratch, len: 1, write: true })));
    const idx = [head];
    const { descAddr } = this.ring.layout;
    while (idx.length < n) {
      const raw = this.mem.read(descAddr + VRING_DESC_SIZE * idx[idx.length - 1]! + 14, 2);
      idx.push(raw[0]! | (raw[1]! << 8));
    }
    return idx;
  }

  /** Writes descriptor `index` of the ring verbatim. */
  desc(index: number, d: RawDescriptor): void {
    this.ring.writeDescriptor(index, d);
  }

  /** A direct chain of `parts` over reserved descriptors; returns the head. */
  chain(parts: readonly Part[]): number {
    const idx = this.reserve(parts.length);
    parts.forEach((p, i) => {
      const last = i === parts.length - 1;
      const flags = (p.write ? VRING_DESC_F_WRITE : 0) | (last ? 0 : VRING_DESC_F_NEXT) | (p.flags ?? 0);
      this.desc(idx[i]!, { addr: p.addr, len: p.len, flags, next: p.next ?? (last ? 0 : idx[i + 1]!) });
    });
    this.lastHead = idx[0]!;
    return this.lastHead;
  }

  /** Writes an indirect table of `parts` (linked like {@link chain}) at a fresh address; returns it. */
  table(parts: readonly Part[]): number {
    const iova = this.buffer(VRING_DESC_SIZE * parts.length, 0);
    parts.forEach((p, i) => {
      const last = i === parts.length - 1;
      const flags = (p.write ? VRING_DESC_F_WRITE : 0) | (last ? 0 : VRING_DESC_F_NEXT) | (p.flags ?? 0);
      this.ring.writeDescriptorAt(iova + VRING_DESC_SIZE * i, { addr: p.addr, len: p.len, flags, next: p.next ?? i + 1 });
    });
    return iova;
  }

  /** avail.idx as published in guest memory. */
  availIdx(): number {
    const raw = this.mem.read(this.ring.layout.driverAddr + 2, 2);
    return raw[0]! | (raw[1]! << 8);
  }

  /** Publishes the added heads and kicks; returns used.idx as it was before. */
  publish(): number {
    const before = this.ring.usedIdx();
    this.ring.publishAvail();
    this.device.kick(this.q);
    return before;
  }

  /** Kicks without publishing (after a raw setAvailIdx). */
  kick(): void {
    this.device.kick(this.q);
  }

  /** Waits until used.idx moved `count` past `from`; returns those used elements. */
  async waitUsed(from: number, count = 1, timeoutMs = 5000): Promise<UsedElement[]> {
    const ring = this.ring;
    await waitFor(() => ((ring.usedIdx() - from) & 0xffff) >= count, `used.idx to pass ${from} + ${count}`, timeoutMs);
    return Array.from({ length: count }, (_, i) => ring.usedElement((from + i) & (ring.size - 1)));
  }

  /** One byte of guest memory. */
  byte(iova: number): number {
    return this.mem.read(iova, 1)[0]!;
  }

  bytes(iova: number, len: number): Uint8Array {
    return this.mem.read(iova, len);
  }

  /** Returns every buffer this helper allocated. */
  release(): void {
    for (const [iova, len] of this.allocations.splice(0)) this.mem.release(iova, len);
    this.scratch = -1;
  }
}
