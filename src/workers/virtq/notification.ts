/**
 * Event-index arithmetic for notification suppression (VIRTIO 1.2 §2.7.7
 * used buffer notifications, §2.7.10 available buffer notifications). Pure
 * u16 arithmetic, shared by the used side (used_event) and the avail side
 * (avail_event) of the ring.
 */

/**
 * `vring_need_event(event, new, old)`: whether an index moving from `oldIdx`
 * to `newIdx` (free-running u16) stepped past `eventIdx`, i.e. whether
 * `eventIdx` lies in the window [old, new). The subtraction wraps at 2^16 so
 * that the test stays correct across index wrap-around.
 */
export function vringNeedEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}
