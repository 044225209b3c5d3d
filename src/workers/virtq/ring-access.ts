/**
 * Ordered access to the u16 fields a split ring shares with the driver
 * (flags, idx, used_event, avail_event).
 *
 * Guest memory is an ArrayBuffer (an mmap'ed external buffer, or a
 * SharedArrayBuffer) that the driver writes concurrently. JavaScript has no
 * fence instruction, so the ordering rules of VIRTIO 1.2 §2.7.13 and §2.7.8
 * are carried by the accesses themselves: every ordering-relevant field is
 * read with `Atomics.load` and written with `Atomics.store` on a Uint16Array
 * (Atomics accept non-shared integer arrays; only `wait` needs a shared one).
 * What V8 emits for a 16-bit element (checked with --print-builtin-code on
 * x86-64, Node 20; arm64 from V8's code generator):
 *
 * | op           | x86-64        | arm64   | gives                           |
 * |--------------|---------------|---------|---------------------------------|
 * | Atomics.load | movzxw        | ldarh   | acquire (x86: TSO load→load)    |
 * | Atomics.store| xchgw (locked)| stlrh   | release (x86: also a full fence)|
 *
 * Consequences the ring code relies on:
 * - {@link loadAcquire}: plain reads issued after it (ring entries,
 *   descriptors, used elements) cannot be satisfied before it.
 * - {@link storeRelease}: plain reads and writes issued before it (used
 *   elements, descriptor reads) are visible before it.
 * - A storeRelease followed by a loadAcquire is ordered store→load: on
 *   x86-64 xchg is a full barrier, on arm64 stlr→ldar is ordered (RCsc).
 *   That is the "full barrier" of §2.7.10 / Linux `virtio_mb`, provided both
 *   sides of the pair are these functions, never plain accesses.
 * Calls into the Atomics builtins are also compiler barriers for V8.
 */

/** Whether the host stores u16 little-endian, as the ring format requires. */
export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A Uint16Array over the same bytes as `view`, for Atomics on ring fields.
 * Returns null when the view is not 2-byte aligned in its buffer, or the
 * host is big-endian (the elements would be byte-swapped).
 */
export function u16Array(view: Uint8Array): Uint16Array | null {
  if (!HOST_IS_LITTLE_ENDIAN || view.byteOffset % 2 !== 0) return null;
  return new Uint16Array(view.buffer, view.byteOffset, view.byteLength >>> 1);
}

/** Acquire-load of a u16 ring field (see the module comment). */
export function loadAcquire(fields: Uint16Array, index: number): number {
  return Atomics.load(fields, index);
}

/** Release-store of a u16 ring field (see the module comment). */
export function storeRelease(fields: Uint16Array, index: number, value: number): void {
  Atomics.store(fields, index, value & 0xffff);
}
