/**
 * The loopback "guest": driver memory in memfd-backed regions. Like the
 * kernel's VDUSE domain file, every region's file offset equals its IOVA, so
 * the device side maps exactly what VDUSE_IOTLB_GET_FD would give it.
 * Regions are laid out back to back so one buffer may cross a boundary.
 */
import { native } from '../shared/native.js';
import { VDUSE_ACCESS_RW } from '../shared/vduse.js';
import type { LoopbackIotlbEntry } from '../shared/loopback-iotlb.js';

const PAGE_SIZE = 4096;

export interface GuestRegion {
  start: number;
  size: number;
  fd: number;
  perm: number;
  /** The driver's own mapping of the region. */
  bytes: Uint8Array;
  buffer: ArrayBuffer;
}

export interface GuestMemoryOptions {
  /** Total bytes (default 64 MiB, like the kernel's bounce buffer). */
  size?: number;
  /** How many memfd regions to split it into (default 1). */
  regions?: number;
  /** IOVA of the first byte (default 1 MiB; IOVA 0 is never handed out, as in the kernel). */
  base?: number;
}

/** Driver memory with a first-fit allocator. */
export class LoopbackGuestMemory {
  readonly regions: GuestRegion[] = [];
  readonly base: number;
  readonly size: number;
  private free: Array<{ start: number; size: number }>;

  constructor(options: GuestMemoryOptions = {}) {
    const count = options.regions ?? 1;
    this.base = options.base ?? 0x100000;
    const per = Math.ceil((options.size ?? 64 << 20) / count / PAGE_SIZE) * PAGE_SIZE;
    this.size = per * count;
    for (let i = 0; i < count; i++) this.regions.push(createRegion(this.base + i * per, per, i));
    this.free = [{ start: this.base, size: this.size }];
  }

  /** IOTLB entries describing this memory (file offset = IOVA). */
  iotlbEntries(): LoopbackIotlbEntry[] {
    return this.regions.map((r) => ({ start: r.start, last: r.start + r.size - 1, offset: r.start, fd: r.fd,
      perm: r.perm }));
  }

  /**
   * Allocates `size` bytes aligned to `align` (a power of two), inside region
   * `region` when given (rings and indirect tables must not cross regions);
   * throws when full.
   */
  alloc(size: number, align = 16, region?: number): number {
    const r = region === undefined ? undefined : this.regions[region];
    const lo = r?.start ?? this.base;
    const hi = r === undefined ? this.base + this.size : r.start + r.size;
    for (let i = 0; i < this.free.length; i++) {
      const f = this.free[i]!;
      const at = Math.ceil(Math.max(f.start, lo) / align) * align;
      const end = at + size;
      if (end > f.start + f.size || end > hi) continue;
      const pieces = [];
      if (at > f.start) pieces.push({ start: f.start, size: at - f.start });
      if (end < f.start + f.size) pieces.push({ start: end, size: f.start + f.size - end });
      this.free.splice(i, 1, ...pieces);
      return at;
    }
    throw new RangeError(`loopback guest memory exhausted (${size} bytes wanted)`);
  }

  /** Returns a block from {@link alloc}. */
  release(start: number, size: number): void {
    this.free.push({ start, size });
    this.free.sort((a, b) => a.start - b.start);
    const merged: Array<{ start: number; size: number }> = [];
    for (const f of this.free) {
      const prev = merged[merged.length - 1];
      if (prev !== undefined && prev.start + prev.size === f.start) prev.size += f.size;
      else merged.push({ ...f });
    }
    this.free = merged;
  }

  /** Copies `data` into guest memory at `iova` (possibly across regions). */
  write(iova: number, data: Uint8Array): void {
    this.each(iova, data.length, (view, off) => view.set(data.subarray(off, off + view.length)));
  }

  /** Copies `length` bytes out of guest memory at `iova`. */
  read(iova: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    this.each(iova, length, (view, off) => out.set(view, off));
    return out;
  }

  /** Fills a range with one byte value. */
  fill(iova: number, length: number, value: number): void {
    this.each(iova, length, (view) => view.fill(value));
  }

  /** The region holding `iova`, or undefined. */
  regionAt(iova: number): GuestRegion | undefined {
    return this.regions.find((r) => iova >= r.start && iova < r.start + r.size);
  }

  /** Unmaps and closes everything. */
  close(): void {
    for (const r of this.regions.splice(0)) {
      native().munmap(r.buffer);
      native().close(r.fd);
    }
  }

  private each(iova: number, length: number, fn: (view: Uint8Array, offset: number) => void): void {
    let done = 0;
    while (done < length) {
      const r = this.regionAt(iova + done);
      if (r === undefined) throw new RangeError(`IOVA 0x${(iova + done).toString(16)} is outside guest memory`);
      const at = iova + done - r.start;
      const n = Math.min(length - done, r.size - at);
      fn(r.bytes.subarray(at, at + n), done);
      done += n;
    }
  }
}

/** A memfd sized to reach the region's end, mapped at file offset = IOVA. */
export function createRegion(start: number, size: number, tag: number | string): GuestRegion {
  const n = native();
  const fd = n.memfdCreate(`vduse-loopback-${tag}`, n.constants.MFD_CLOEXEC);
  n.ftruncate(fd, start + size);
  const buffer = n.mmap(fd, start, size, n.constants.PROT_READ | n.constants.PROT_WRITE, n.constants.MAP_SHARED);
  return { start, size, fd, perm: VDUSE_ACCESS_RW, bytes: new Uint8Array(buffer), buffer };
}
