/**
 * The real kernel: /dev/vduse/control for creating and destroying devices,
 * /dev/vduse/NAME for ioctls and control messages, vdpa netlink to attach.
 */
import { native, type FdWatcher } from '../shared/native.js';
import {
  VDUSE_CONTROL_PATH, VDUSE_CREATE_DEV, VDUSE_DESTROY_DEV, VDUSE_DEV_GET_FEATURES, VDUSE_GET_API_VERSION,
  VDUSE_SET_API_VERSION, VDUSE_VQ_GET_INFO, VDUSE_VQ_SETUP, VDUSE_VQ_SETUP_KICKFD, vduseDevicePath,
} from '../shared/vduse.js';
import {
  VDUSE_DEV_REQUEST_SIZE, decodeU64Arg, decodeVqInfo, encodeDestroyDevName, encodeU64Arg, encodeVqConfig,
  encodeVqEventfd, encodeVqInfoRequest,
} from '../shared/layouts/index.js';
import { DeviceExistsError, VduseBlkError, VduseUnavailableError, errnoCode } from '../shared/errors.js';
import type { DeviceDescriptor } from '../shared/worker-data.js';
import { attachVdpa, detachVdpa } from './vdpa-attach.js';
import { MessagePump } from './message-pump.js';
import type { AttachResult, ControlMessageHandler, VduseDeviceChannel, VduseTransport, VqInfo } from '../shared/transport.js';

const MODULE_HINT = 'load the vduse module (modprobe vduse virtio_vdpa; the kernel needs CONFIG_VDPA_USER)';

export class KernelTransport implements VduseTransport {
  readonly kind = 'vduse';

  async createDevice(name: string, devConfig: Uint8Array): Promise<VduseDeviceChannel> {
    const n = native();
    const ctl = openControl();
    try {
      // Pin API version 0 explicitly: 7.0 kernels default a fresh fd to v1 once asked (reference §2).
      n.ioctl(ctl, VDUSE_GET_API_VERSION, encodeU64Arg(0n));
      n.ioctl(ctl, VDUSE_SET_API_VERSION, encodeU64Arg(0n));
      try {
        n.ioctl(ctl, VDUSE_CREATE_DEV, devConfig);
      } catch (err) {
        if (errnoCode(err) === 'EEXIST') throw new DeviceExistsError(name, { cause: err });
        throw new VduseBlkError(`the kernel refused to create '${name}': ${(err as Error).message}`, 'CREATE_DEV',
          { cause: err });
      }
      let devFd: number;
      try {
        devFd = await openDevice(name);
      } catch (err) {
        n.ioctl(ctl, VDUSE_DESTROY_DEV, encodeDestroyDevName(name));
        throw err;
      }
      return new KernelDeviceChannel(name, ctl, devFd);
    } catch (err) {
      n.close(ctl);
      throw err;
    }
  }
}

function openControl(): number {
  const n = native();
  const { O_RDWR, O_CLOEXEC } = n.constants;
  try {
    return n.open(VDUSE_CONTROL_PATH, O_RDWR | O_CLOEXEC);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENXIO' || code === 'ENODEV') {
      throw new VduseUnavailableError(`${VDUSE_CONTROL_PATH} does not exist: ${MODULE_HINT}`, { cause: err });
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new VduseUnavailableError(`no permission to open ${VDUSE_CONTROL_PATH}: run as root or grant access to it`,
        { cause: err });
    }
    throw err;
  }
}

/** Opens /dev/vduse/NAME, waiting briefly for devtmpfs/udev to create the node. */
async function openDevice(name: string): Promise<number> {
  const n = native();
  const { O_RDWR, O_NONBLOCK, O_CLOEXEC } = n.constants;
  for (let attempt = 0; ; attempt++) {
    try {
      return n.open(vduseDevicePath(name), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'EBUSY') throw new DeviceExistsError(name, { cause: err });
      if (code !== 'ENOENT' || attempt >= 50) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

class KernelDeviceChannel implements VduseDeviceChannel {
  private watcher: FdWatcher | null = null;
  private pump: MessagePump | null = null;

  constructor(readonly name: string, private readonly ctl: number, private readonly devFd: number) {}

  vqSetup(index: number, maxSize: number): void {
    native().ioctl(this.devFd, VDUSE_VQ_SETUP, encodeVqConfig({ index, maxSize }));
  }

  getFeatures(): bigint {
    const arg = encodeU64Arg(0n);
    native().ioctl(this.devFd, VDUSE_DEV_GET_FEATURES, arg);
    return decodeU64Arg(arg);
  }

  vqGetInfo(index: number): VqInfo {
    const arg = encodeVqInfoRequest(index);
    native().ioctl(this.devFd, VDUSE_VQ_GET_INFO, arg);
    return decodeVqInfo(arg);
  }

  setupKickfd(index: number, fd: number): void {
    native().ioctl(this.devFd, VDUSE_VQ_SETUP_KICKFD, encodeVqEventfd({ index, fd }));
  }

  serve(handler: ControlMessageHandler): void {
    const n = native();
    const pump = new MessagePump(handler, (res) => { n.write(this.devFd, res); });
    this.pump = pump;
    const buf = new Uint8Array(VDUSE_DEV_REQUEST_SIZE);
    // The fd is non-blocking: read every queued request, then go back to the loop.
    this.watcher = n.watch(this.devFd, n.constants.UV_READABLE, (err) => {
      if (err !== null) return;
      while (n.read(this.devFd, buf) === VDUSE_DEV_REQUEST_SIZE) pump.push(buf.slice());
    });
  }

  workerDevice(): DeviceDescriptor {
    return { kind: 'vduse', devFd: this.devFd };
  }

  attach(): Promise<AttachResult> {
    return attachVdpa(this.name);
  }

  detach(): Promise<void> {
    return detachVdpa(this.name);
  }

  async destroy(): Promise<void> {
    const n = native();
    await this.pump?.idle();
    this.watcher?.close();
    n.close(this.devFd);
    try {
      n.ioctl(this.ctl, VDUSE_DESTROY_DEV, encodeDestroyDevName(this.name));
    } finally {
      n.close(this.ctl);
    }
  }
}
