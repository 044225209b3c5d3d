/**
 * Byte-range helpers over a list of views (an I/O vector). A request's
 * header, data and status may be split across descriptors in any way
 * (VIRTIO 1.2, split virtqueues, "Message Framing": the device must not
 * assume a particular framing), so every access goes through a byte offset
 * into the whole list rather than through a particular view.
 */

/**
 * The bytes [start, end) of `views` as subviews, without copying. Views
 * wholly inside the range are returned as they are (no new object).
 */
export function sliceViews(views: readonly Uint8Array[], start: number, end: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let pos = 0;
  for (const view of views) {
    const from = Math.max(start - pos, 0);
    const to = Math.min(end - pos, view.length);
    if (from < to) out.push(from === 0 && to === view.length ? view : view.subarray(from, to));
    pos += view.length;
    if (pos >= end) break;
  }
  return out;
}

/**
 * Copies `dst.length` bytes starting at byte `start` of `views` into `dst`
 * (byte by byte: used for headers and segments, 16 bytes at a time).
 * Returns how many bytes were available.
 */
export function copyFromViews(views: readonly Uint8Array[], start: number, dst: Uint8Array): number {
  const first = views[0];
  if (start === 0 && first !== undefined && first.length >= dst.length) {
    // The usual framing: the whole header in the first view.
    for (let i = 0; i < dst.length; i++) dst[i] = first[i]!;
    return dst.length;
  }
  let copied = 0;
  let pos = 0;
  for (const view of views) {
    if (copied === dst.length) break;
    const viewEnd = pos + view.length;
    for (let i = Math.max(start + copied - pos, 0); i < view.length && copied < dst.length; i++) {
      dst[copied++] = view[i]!;
    }
    pos = viewEnd;
  }
  return copied;
}

/** Copies `src` into the start of `views` (as far as they reach). */
export function copyToViews(views: readonly Uint8Array[], src: Uint8Array): void {
  let done = 0;
  for (const view of views) {
    if (done === src.length) return;
    const n = Math.min(view.length, src.length - done);
    view.set(src.subarray(done, done + n));
    done += n;
  }
}

/** Sets every byte of `views` to `value`. */
export function fillViews(views: readonly Uint8Array[], value: number): void {
  for (const view of views) view.fill(value);
}
