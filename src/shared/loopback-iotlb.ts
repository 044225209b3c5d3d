/**
 * The loopback kernel's IOTLB as a shared table, so queue workers can do
 * what VDUSE_IOTLB_GET_FD does on a real kernel: find the region holding an
 * IOVA and get an fd (file offset = IOVA - start + offset) to mmap.
 *
 * Layout (Float64 slots; every value is an integer < 2^53):
 * slot 0: entry count, then per entry: start, last, offset, fd, perm.
 * Writers replace the table only while no worker runs or during an
 * UPDATE_IOTLB handshake, so readers need no lock.
 */

const FIELDS = 5;
export const LOOPBACK_IOTLB_MAX_ENTRIES = 64;
const BYTES = (1 + LOOPBACK_IOTLB_MAX_ENTRIES * FIELDS) * 8;

export interface LoopbackIotlbEntry {
  start: number;
  last: number;
  offset: number;
  fd: number;
  /** VDUSE_ACCESS_* bits. */
  perm: number;
}

export class LoopbackIotlb {
  readonly buffer: SharedArrayBuffer;
  private readonly slots: Float64Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(BYTES)) {
    this.buffer = buffer;
    this.slots = new Float64Array(buffer);
  }

  /** Replaces the whole table. */
  set(entries: readonly LoopbackIotlbEntry[]): void {
    if (entries.length > LOOPBACK_IOTLB_MAX_ENTRIES) throw new RangeError('too many loopback IOTLB entries');
    entries.forEach((e, i) => {
      const b = 1 + i * FIELDS;
      this.slots.set([e.start, e.last, e.offset, e.fd, e.perm], b);
    });
    this.slots[0] = entries.length;
  }

  entries(): LoopbackIotlbEntry[] {
    const n = this.slots[0] ?? 0;
    const out: LoopbackIotlbEntry[] = [];
    for (let i = 0; i < n; i++) {
      const b = 1 + i * FIELDS;
      const s = this.slots;
      out.push({ start: s[b]!, last: s[b + 1]!, offset: s[b + 2]!, fd: s[b + 3]!, perm: s[b + 4]! });
    }
    return out;
  }

  /** The first entry overlapping [start, last], as VDUSE_IOTLB_GET_FD picks it. */
  find(start: number, last: number): LoopbackIotlbEntry | undefined {
    return this.entries().find((e) => e.start <= last && start <= e.last);
  }
}
