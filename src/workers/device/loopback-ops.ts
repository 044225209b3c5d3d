/** DeviceOps for the loopback kernel (src/loopback): a shared IOTLB table and IRQ eventfds. */
import { native } from '../../shared/native.js';
import { LoopbackIotlb } from '../../shared/loopback-iotlb.js';
import type { DeviceOps, IotlbMapping } from './device-ops.js';

const ONE = new BigUint64Array([1n]);

export class LoopbackDeviceOps implements DeviceOps {
  private readonly iotlb: LoopbackIotlb;
  private readonly one = new Uint8Array(ONE.buffer);

  constructor(iotlb: SharedArrayBuffer, private readonly irqFds: readonly number[]) {
    this.iotlb = new LoopbackIotlb(iotlb);
  }

  iotlbGetFd(start: number, last: number): IotlbMapping {
    const entry = this.iotlb.find(start, last);
    if (entry === undefined) {
      throw Object.assign(new Error(`no IOTLB entry overlaps [0x${start.toString(16)}, 0x${last.toString(16)}]`),
        { code: 'EINVAL' });
    }
    // Same contract as the kernel: a new fd the caller closes after mmap.
    return { ...entry, fd: native().dup(entry.fd) };
  }

  injectIrq(queueIndex: number): void {
    const fd = this.irqFds[queueIndex];
    if (fd === undefined) throw new RangeError(`no IRQ eventfd for queue ${queueIndex}`);
    native().write(fd, this.one);
  }
}
