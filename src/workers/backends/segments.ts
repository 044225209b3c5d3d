/**
 * Views as {@link IoUring.prepReadv} and {@link NativeAddon.preadv} take
 * them: one whole-buffer base view per distinct buffer (usually one: the
 * mapping a request's descriptors are in) and a [base index, byte offset, length] triple per view. The addon
 * then makes the iovec array from a Float64Array instead of making N-API
 * calls per view, which cost ~150-200 ns each on the host and far more in
 * an emulated guest (a 128 KiB guest read arrives in ~30 views).
 */
import { IOV_MAX } from './file.js';

export class Segments {
  /** `count` triples: [index into `bases`, byte offset in that base, byte length]. */
  readonly triples: Float64Array;
  /**
   * Whole-buffer views, one per distinct buffer. Refilled by every
   * {@link Segments.fill}: the ring references or copies what it keeps.
   */
  readonly bases: Uint8Array[] = [];
  count = 0;

  constructor(readonly max: number = IOV_MAX) {
    this.triples = new Float64Array(3 * max);
  }

  /**
   * The whole-buffer view made for the last distinct buffer, kept across
   * fills: a request's views are nearly always in the mapping the one
   * before was in, so most fills allocate nothing.
   */
  private lastBuffer: ArrayBufferLike | null = null;
  private lastBase: Uint8Array | null = null;

  /** Describes the first `max` views (the rest go in a later call, as after a short transfer). */
  fill(views: readonly Uint8Array[]): this {
    const n = Math.min(views.length, this.max);
    const triples = this.triples;
    this.baseCount = 0;
    // Views of one request are nearly always in the buffer of the one before.
    let lastBuffer: ArrayBufferLike | null = null;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const view = views[i]!;
      const buffer = view.buffer;
      if (buffer !== lastBuffer) {
        k = this.baseIndex(buffer);
        lastBuffer = buffer;
      }
      triples[3 * i] = k;
      triples[3 * i + 1] = view.byteOffset;
      triples[3 * i + 2] = view.byteLength;
    }
    // Shortened only when this fill has fewer bases than the last one: a
    // store to an array's length is a runtime call, dear on every request.
    if (this.bases.length !== this.baseCount) this.bases.length = this.baseCount;
    this.count = n;
    return this;
  }

  private baseCount = 0;

  /**
   * `bases` as the addon takes it: the one base itself when there is one
   * (the usual case, which spares the addon an array walk), else the array.
   */
  get basesArg(): Uint8Array | readonly Uint8Array[] {
    return this.baseCount === 1 ? this.bases[0]! : this.bases;
  }

  private baseIndex(buffer: ArrayBufferLike): number {
    const bases = this.bases;
    for (let k = 0; k < this.baseCount; k++) if (bases[k]!.buffer === buffer) return k;
    // (A buffer unmapped since is detached: its view, like every other view of it, has length 0.)
    if (buffer !== this.lastBuffer) {
      this.lastBuffer = buffer;
      this.lastBase = new Uint8Array(buffer);
    }
    bases[this.baseCount] = this.lastBase!;
    return this.baseCount++;
  }
}
