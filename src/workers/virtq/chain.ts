/** A descriptor chain popped from the avail ring, translated to host views. */
export interface DescriptorChain {
  /** Head descriptor index: the id written to the used ring. */
  readonly head: number;
  /** Device-readable buffers in chain order (views into guest memory). */
  readonly readable: Uint8Array[];
  /** Device-writable buffers in chain order (views into guest memory). */
  readonly writable: Uint8Array[];
  /** Sum of the readable views' lengths. */
  readonly readableBytes: number;
  /** Sum of the writable views' lengths. */
  readonly writableBytes: number;
  /**
   * Set when the chain is well formed as a ring structure but a buffer cannot
   * be used (address outside every mapping, zero length, too many bytes). The
   * request must fail. In that case `readable` is empty and `writable` holds
   * at most one view: the chain's last writable byte, when that byte could be
   * mapped, so that an error status can still be reported.
   */
  readonly fault: string | null;
}

/**
 * The ring itself is corrupt (descriptor loop, index out of range, indirect
 * inside indirect, bad indirect table, writable before readable, avail index
 * too far ahead). The queue must stop: nothing from it can be trusted.
 */
export class VirtqueueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VirtqueueError';
  }
}
