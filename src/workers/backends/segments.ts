/**
 * Views as {@link IoUring.prepReadv} takes them: one whole-buffer base view
 * per distinct buffer (usually one: the mapping a request's descriptors are
 * in) and a [base index, byte offset, length] triple per view. The addon
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

  /** Describes the first `max` views (the rest go in a later call, as after a short transfer). */
  fill(views: readonly Uint8Array[]): this {
    const n = Math.min(views.length, this.max);
    const bases = this.bases;
    const triples = this.triples;
    bases.length = 0;
    // Views of one request are nearly always in the buffer of the one before.
    let lastBuffer: ArrayBufferLike | null = null;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const view = views[i]!;
      const buffer = view.buffer;
      if (buffer !== lastBuffer) {
        k = baseIndex(bases, buffer);
        lastBuffer = buffer;
      }
      triples[3 * i] = k;
      triples[3 * i + 1] = view.byteOffset;
      triples[3 * i + 2] = view.byteLength;
    }
    this.count = n;
    return this;
  }
}

function baseIndex(bases: Uint8Array[], buffer: ArrayBufferLike): number {
  for (let k = 0; k < bases.length; k++) if (bases[k]!.buffer === buffer) return k;
  return bases.push(new Uint8Array(buffer)) - 1;
}
