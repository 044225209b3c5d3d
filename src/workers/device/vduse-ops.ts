/** DeviceOps on a real kernel: ioctls on the /dev/vduse/NAME fd, which is valid in every thread. */
import { native } from '../../shared/native.js';
import { VDUSE_IOTLB_GET_FD, VDUSE_VQ_INJECT_IRQ } from '../../shared/vduse.js';
import { decodeIotlbEntry, encodeIotlbEntry } from '../../shared/layouts/index.js';
import type { DeviceOps, IotlbMapping } from './device-ops.js';

export class VduseDeviceOps implements DeviceOps {
  // One reusable argument buffer each: the worker is single-threaded.
  private readonly irqArg = new Uint8Array(4);
  private readonly irqView = new DataView(this.irqArg.buffer);

  constructor(private readonly devFd: number) {}

  iotlbGetFd(start: number, last: number): IotlbMapping {
    const arg = encodeIotlbEntry({ offset: 0n, start: BigInt(start), last: BigInt(last), perm: 0 });
    const fd = native().ioctl(this.devFd, VDUSE_IOTLB_GET_FD, arg);
    const entry = decodeIotlbEntry(arg);
    return {
      fd,
      offset: Number(entry.offset),
      start: Number(entry.start),
      last: Number(entry.last),
      perm: entry.perm,
    };
  }

  injectIrq(queueIndex: number): void {
    this.irqView.setUint32(0, queueIndex, true);
    native().ioctl(this.devFd, VDUSE_VQ_INJECT_IRQ, this.irqArg);
  }
}
