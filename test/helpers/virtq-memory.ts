/**
 * A GuestMemory over one Uint8Array for ring tests: `bytes[0]` is at IOVA
 * `base`; holes are unmapped, read-only ranges refuse device writes, and
 * split points cut the space into separate mappings (translate then returns
 * several views for a range that crosses one).
 */
import { GuestMemoryError } from '../../src/workers/virtq/guest-memory.js';
import type { GuestMemory, MappedRange } from '../../src/workers/virtq/guest-memory.js';

/** [start, end) in IOVA space. */
export type Range = readonly [number, number];

export interface TestMemoryOptions {
  readonly holes?: readonly Range[];
  readonly readOnly?: readonly Range[];
  readonly splits?: readonly number[];
}

interface Region {
  readonly start: number;
  readonly end: number;
  readonly writable: boolean;
}

const inside = (ranges: readonly Range[], at: number): boolean => ranges.some(([s, e]) => at >= s && at < e);

export class TestGuestMemory implements GuestMemory {
  private readonly regions: Region[] = [];
  /** Every translate() and locate() call, for assertions. */
  readonly calls: { iova: number; length: number; write: boolean }[] = [];

  constructor(readonly bytes: Uint8Array, readonly base: number, options: TestMemoryOptions = {}) {
    const holes = options.holes ?? [];
    const readOnly = options.readOnly ?? [];
    const end = base + bytes.byteLength;
    const cuts = new Set<number>([base, end, ...(options.splits ?? [])]);
    for (const [s, e] of [...holes, ...readOnly]) cuts.add(s).add(e);
    const points = [...cuts].filter((p) => p >= base && p <= end).sort((a, b) => a - b);
    for (let i = 0; i + 1 < points.length; i++) {
      const start = points[i] ?? 0;
      const stop = points[i + 1] ?? 0;
      if (!inside(holes, start)) this.regions.push({ start, end: stop, writable: !inside(readOnly, start) });
    }
  }

  /** The same bytes, as the driver sees them. */
  get driver(): { bytes: Uint8Array; base: number } {
    return { bytes: this.bytes, base: this.base };
  }

  translateInto(iova: number, length: number, write: boolean, out: Uint8Array[]): void {
    for (const view of this.translate(iova, length, write)) out.push(view);
  }

  /** The whole test buffer when the range lies in one region (with the permission); null otherwise. */
  locate(iova: number, length: number, write: boolean): MappedRange | null {
    const r = this.regions.find((x) => iova >= x.start && iova + length <= x.end);
    this.calls.push({ iova, length, write });
    if (r === undefined || length <= 0 || (write && !r.writable)) return null;
    return { start: this.base, buffer: this.bytes.buffer, byteOffset: this.bytes.byteOffset };
  }

  translate(iova: number, length: number, write: boolean): Uint8Array[] {
    this.calls.push({ iova, length, write });
    if (!Number.isSafeInteger(iova) || !Number.isSafeInteger(length) || length <= 0) {
      throw new GuestMemoryError('bad range', iova, length);
    }
    const views: Uint8Array[] = [];
    const end = iova + length;
    let at = iova;
    for (const r of this.regions) {
      if (r.end <= at) continue;
      if (r.start > at) break;
      if (write && !r.writable) throw new GuestMemoryError('read-only mapping', iova, length);
      const stop = Math.min(r.end, end);
      views.push(this.bytes.subarray(at - this.base, stop - this.base));
      at = stop;
      if (at === end) return views;
    }
    throw new GuestMemoryError('unmapped', iova, length);
  }
}
