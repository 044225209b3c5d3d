/**
 * The device's view of driver memory. IOVAs are plain numbers: every IOVA a
 * real driver hands out fits in 53 bits, and an address past that is simply
 * never mapped.
 */
export interface GuestMemory {
  /**
   * Host views of the guest range [iova, iova + length). Usually one view;
   * several when the range crosses mapping regions. `write` says the device
   * will write the bytes (a device-writable buffer), so the mapping must allow
   * writes. Throws {@link GuestMemoryError} when any byte is unmapped or the
   * permission is missing; never returns a view outside a mapping.
   */
  translate(iova: number, length: number, write: boolean): Uint8Array[];
  /**
   * {@link translate}, appending the views to `out` (no array of its own:
   * the descriptor walk calls it once per buffer). On a throw, `out` may
   * have gained the views before the unmapped byte.
   */
  translateInto(iova: number, length: number, write: boolean, out: Uint8Array[]): void;
  /**
   * The one mapping that holds all of [iova, iova + length) with the
   * permission `write` asks for, or null when there is none (unmapped, no
   * permission, or the range crosses mappings: {@link translate} then says
   * which). Makes no view: for reading small structures in place (indirect
   * tables) where a view per request would cost more than the read.
   */
  locate(iova: number, length: number, write: boolean): MappedRange | null;
}

/** A whole mapping: byte `byteOffset` of `buffer` is guest address `start`. */
export interface MappedRange {
  readonly start: number;
  readonly buffer: ArrayBufferLike;
  readonly byteOffset: number;
}

/** A guest address that is not (or not suitably) mapped. */
export class GuestMemoryError extends Error {
  constructor(message: string, readonly iova: number, readonly length: number) {
    super(message);
    this.name = 'GuestMemoryError';
  }
}
