/**
 * Byte access to driver memory for the simulated driver. Pure.
 */
import { VRING_DESC_SIZE } from '../shared/virtio.js';

/** Guest memory as the driver sees it: `bytes[0]` is at IOVA `base`. */
export interface DriverMemory {
  readonly bytes: Uint8Array;
  readonly base: number;
}

/** A descriptor written verbatim (hostile values allowed). */
export interface RawDescriptor {
  /** u64 address; a bigint to reach past 2^53. */
  readonly addr: number | bigint;
  readonly len: number;
  readonly flags: number;
  readonly next: number;
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Bounds-checked DataView plus Atomics access to u16 ring fields. */
export class RingMemory {
  readonly view: DataView;
  private readonly fields: Uint16Array;
  private readonly base: number;

  constructor(mem: DriverMemory) {
    const { bytes } = mem;
    if (!HOST_IS_LITTLE_ENDIAN || bytes.byteOffset % 2 !== 0 || mem.base % 2 !== 0) {
      throw new RangeError('driver memory must be 2-byte aligned on a little-endian host');
    }
    this.base = mem.base;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.fields = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 1);
  }

  /** Offset in `view` of [iova, iova + length); throws when outside. */
  offset(iova: number, length: number): number {
    const at = iova - this.base;
    if (!Number.isSafeInteger(at) || at < 0 || at + length > this.view.byteLength) {
      throw new RangeError(`IOVA 0x${iova.toString(16)}+${length} outside driver memory`);
    }
    return at;
  }

  fill(iova: number, length: number, value: number): void {
    const at = this.offset(iova, length);
    new Uint8Array(this.view.buffer, this.view.byteOffset + at, length).fill(value);
  }

  /** Acquire-load of a u16 field (Atomics.load: ldar on arm64). */
  load16(iova: number): number {
    return Atomics.load(this.fields, this.fieldIndex(iova));
  }

  /** Release-store of a u16 field (Atomics.store: stlr on arm64, xchg on x86-64). */
  store16(iova: number, value: number): void {
    Atomics.store(this.fields, this.fieldIndex(iova), value & 0xffff);
  }

  writeDescriptor(iova: number, desc: RawDescriptor): void {
    const at = this.offset(iova, VRING_DESC_SIZE);
    this.view.setBigUint64(at, BigInt(desc.addr), true);
    this.view.setUint32(at + 8, desc.len, true);
    this.view.setUint16(at + 12, desc.flags, true);
    this.view.setUint16(at + 14, desc.next, true);
  }

  private fieldIndex(iova: number): number {
    const at = this.offset(iova, 2);
    if (at % 2 !== 0) throw new RangeError(`u16 field at 0x${iova.toString(16)} is not 2-byte aligned`);
    return at >>> 1;
  }
}
