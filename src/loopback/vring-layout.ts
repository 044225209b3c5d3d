/**
 * Split-ring geometry as the Linux driver lays it out (`vring_init`,
 * `vring_size`; VIRTIO 1.2 §2.7 "legacy interfaces" layout), and the
 * event-index test, for the simulated driver. Pure.
 */
import { VRING_DESC_SIZE, VRING_USED_ELEM_SIZE } from '../shared/virtio.js';

/** Where the three parts of one split ring live (IOVAs). */
export interface VringLayout {
  readonly size: number;
  readonly descAddr: number;
  readonly driverAddr: number;
  readonly deviceAddr: number;
}

/** Linux `vring_size(num, align)`: bytes from desc to the end of avail_event. */
export function vringSize(size: number, align = 4096): number {
  const availEnd = VRING_DESC_SIZE * size + 2 * (3 + size);
  return alignUp(availEnd, align) + 2 * 3 + VRING_USED_ELEM_SIZE * size;
}

/**
 * Linux `vring_init`: desc at `base`, avail right after it, used aligned to
 * `align` (VDUSE's vq_align, 4096).
 */
export function vringLayout(base: number, size: number, align = 4096): VringLayout {
  const driverAddr = base + VRING_DESC_SIZE * size;
  const deviceAddr = alignUp(driverAddr + 2 * (3 + size), align);
  return { size, descAddr: base, driverAddr, deviceAddr };
}

/** `vring_need_event(event, new, old)` (VIRTIO 1.2 §2.7.10): was `event` in [old, new)? */
export function vringNeedEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}

function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}
