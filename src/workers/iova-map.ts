/**
 * GuestMemory over lazily mapped IOTLB regions. On a miss the region is
 * looked up through the device (VDUSE_IOTLB_GET_FD on a real kernel), mapped
 * whole as an external ArrayBuffer, and cached until invalidated. A view is
 * only ever handed out inside a mapped region, with its permission checked,
 * so nothing outside mapped memory is ever read or written.
 *
 * Views are also cached by (IOVA, length): a driver reuses the same buffers
 * (the kernel's bounce pages, a VM's request headers), and making a view is
 * the dearest step of a descriptor (a Uint8Array costs ~85 ns; a cache probe
 * a hash and two compares). A hit is the very view a miss would make: the
 * range was inside the same region (regions never overlap), whose permission
 * is checked on every lookup, and the cache is emptied with any unmap.
 */
import { native } from '../shared/native.js';
import { VDUSE_ACCESS_RO, VDUSE_ACCESS_WO } from '../shared/vduse.js';
import { GuestMemoryError, type GuestMemory, type MappedRange } from './virtq/guest-memory.js';
import type { DeviceOps } from './device/device-ops.js';

const PAGE_SIZE = 4096;
/** View cache slots (direct-mapped): a full queue of 256 requests of 32 pages is 8,704 views; 8,192 slots lost most of them to collisions. */
const VIEW_CACHE_BITS = 14;
const VIEW_CACHE_SLOTS = 1 << VIEW_CACHE_BITS;

interface Region {
  start: number;
  last: number;
  buffer: ArrayBuffer;
  /** Where `start` is in `buffer` (mmap offsets are page-aligned; a region need not be). */
  byteOffset: number;
  bytes: Uint8Array;
  perm: number;
}

export class IovaMap implements GuestMemory {
  private regions: Region[] = [];
  private lastHit: Region | undefined;
  private readonly cachedIova = new Float64Array(VIEW_CACHE_SLOTS).fill(-1);
  private readonly cachedLength = new Float64Array(VIEW_CACHE_SLOTS);
  private readonly cachedViews: Array<Uint8Array | null> = new Array<Uint8Array | null>(VIEW_CACHE_SLOTS).fill(null);

  constructor(private readonly device: DeviceOps) {}

  translate(iova: number, length: number, write: boolean): Uint8Array[] {
    const views: Uint8Array[] = [];
    this.translateInto(iova, length, write, views);
    return views;
  }

  translateInto(iova: number, length: number, write: boolean, out: Uint8Array[]): void {
    const last = iova + length - 1;
    if (!Number.isSafeInteger(iova) || iova < 0 || length <= 0 || !Number.isSafeInteger(last)) {
      throw new GuestMemoryError(`invalid guest range 0x${iova.toString(16)}+${length}`, iova, length);
    }
    const hit = this.lastHit;
    if (hit !== undefined && iova >= hit.start && last <= hit.last) {
      checkPerm(hit, write, iova, length);
      out.push(this.cachedView(hit, iova, length));
      return;
    }
    let at = iova;
    while (at <= last) {
      const region = this.regionFor(at, iova, length);
      checkPerm(region, write, iova, length);
      const end = Math.min(last, region.last);
      out.push(region.bytes.subarray(at - region.start, end - region.start + 1));
      at = end + 1;
    }
  }

  locate(iova: number, length: number, write: boolean): MappedRange | null {
    const hit = this.lastHit;
    const last = iova + length - 1;
    // Only the last region used: anything else takes translate's full path.
    if (hit === undefined || !(iova >= hit.start && last <= hit.last && length > 0)) return null;
    return permits(hit, write) ? hit : null;
  }

  /** Unmaps every cached region overlapping [start, last] (an UPDATE_IOTLB). */
  invalidate(start: bigint, last: bigint): number {
    const drop = this.regions.filter((r) => BigInt(r.start) <= last && start <= BigInt(r.last));
    this.regions = this.regions.filter((r) => !drop.includes(r));
    for (const r of drop) native().munmap(r.buffer);
    this.lastHit = undefined;
    if (drop.length > 0) {
      this.cachedIova.fill(-1);
      this.cachedViews.fill(null);
    }
    return drop.length;
  }

  /** Unmaps everything (reset or stop). */
  clear(): void {
    this.invalidate(0n, (1n << 64n) - 1n);
  }

  get mappedRegions(): number {
    return this.regions.length;
  }

  /** The view of [iova, iova + length) inside `region`: from the cache, or made and cached. */
  private cachedView(region: Region, iova: number, length: number): Uint8Array {
    const slot = Math.imul((iova >>> 0) ^ (iova / 0x1_0000_0000) ^ length, 0x9e3779b1) >>> (32 - VIEW_CACHE_BITS);
    if (this.cachedIova[slot] === iova && this.cachedLength[slot] === length) return this.cachedViews[slot]!;
    const view = region.bytes.subarray(iova - region.start, iova - region.start + length);
    this.cachedIova[slot] = iova;
    this.cachedLength[slot] = length;
    this.cachedViews[slot] = view;
    return view;
  }

  private regionFor(at: number, iova: number, length: number): Region {
    const found = this.regions.find((r) => at >= r.start && at <= r.last);
    if (found !== undefined) return (this.lastHit = found);
    let entry;
    try {
      entry = this.device.iotlbGetFd(at, at);
    } catch (err) {
      throw new GuestMemoryError(`guest address 0x${at.toString(16)} is not mapped (${(err as Error).message})`,
        iova, length);
    }
    try {
      const region = mapRegion(entry.fd, entry.offset, entry.start, entry.last, entry.perm);
      this.regions.push(region);
      return (this.lastHit = region);
    } finally {
      native().close(entry.fd);
    }
  }
}

function permits(region: Region, write: boolean): boolean {
  return (region.perm & (write ? VDUSE_ACCESS_WO : VDUSE_ACCESS_RO)) !== 0;
}

function checkPerm(region: Region, write: boolean, iova: number, length: number): void {
  if (!permits(region, write)) {
    throw new GuestMemoryError(`guest range 0x${iova.toString(16)}+${length} is not ${write ? 'writable' : 'readable'}`,
      iova, length);
  }
}

function mapRegion(fd: number, offset: number, start: number, last: number, perm: number): Region {
  const n = native();
  const { PROT_READ, PROT_WRITE, MAP_SHARED } = n.constants;
  // mmap offsets must be page-aligned; kernel regions are, but stay general.
  const delta = offset % PAGE_SIZE;
  const size = last - start + 1;
  const mapLength = Math.ceil((delta + size) / PAGE_SIZE) * PAGE_SIZE;
  let prot = 0;
  if (perm & VDUSE_ACCESS_RO) prot |= PROT_READ;
  if (perm & VDUSE_ACCESS_WO) prot |= PROT_WRITE;
  const buffer = n.mmap(fd, offset - delta, mapLength, prot, MAP_SHARED);
  return { start, last, buffer, byteOffset: delta, bytes: new Uint8Array(buffer, delta, size), perm };
}
