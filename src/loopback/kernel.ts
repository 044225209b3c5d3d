/**
 * A simulated VDUSE kernel: it keeps the device model (config space,
 * features, status, virtqueue addresses) as the real module does, sends the
 * same control messages as byte-exact vduse_dev_request structs, forwards
 * kicks to the eventfds the device registered, and hands out memfd-backed
 * IOVA regions. The device side (our control plane and workers) cannot tell
 * it from the kernel, so the whole product runs unmodified without root.
 */
import { native } from '../shared/native.js';
import { DeviceExistsError, VduseBlkError } from '../shared/errors.js';
import { decodeDevConfig, decodeDevResponse, encodeDevRequest, type VduseDevRequest } from '../shared/layouts/index.js';
import { LoopbackIotlb, type LoopbackIotlbEntry } from '../shared/loopback-iotlb.js';
import { VDUSE_REQ_RESULT_OK } from '../shared/vduse.js';
import {
  VIRTIO_BLK_F_CONFIG_WCE, VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_F_ACCESS_PLATFORM, VIRTIO_ID_BLOCK, hasFeature,
} from '../shared/virtio.js';
import type { DeviceDescriptor } from '../shared/worker-data.js';
import type {
  AttachResult, ControlMessageHandler, VduseDeviceChannel, VduseTransport, VqInfo,
} from '../shared/transport.js';
import { LoopbackGuestMemory, type GuestMemoryOptions } from './guest-memory.js';

/** Per-virtqueue state the kernel keeps (what the driver set through vdpa ops). */
export interface LoopbackVq {
  maxSize: number;
  num: number;
  descAddr: number;
  driverAddr: number;
  deviceAddr: number;
  availIndex: number;
  ready: boolean;
  /** Our own reference to the device's kick eventfd (the kernel holds an eventfd_ctx), or -1. */
  kickFd: number;
  /** A kick that arrived while no kickfd was set; replayed by SETUP_KICKFD (reference §1.5). */
  kicked: boolean;
  /** The "interrupt line": the device's VQ_INJECT_IRQ lands here. */
  irqFd: number;
}

const ONE = new Uint8Array(new BigUint64Array([1n]).buffer);

/** Creates loopback devices; each gets its own guest memory. */
export class LoopbackTransport implements VduseTransport {
  readonly kind = 'loopback';
  private readonly devices = new Map<string, LoopbackDevice>();

  constructor(private readonly memory: GuestMemoryOptions = {}) {}

  async createDevice(name: string, devConfig: Uint8Array): Promise<LoopbackDevice> {
    if (this.devices.has(name)) throw new DeviceExistsError(name);
    const device = new LoopbackDevice(devConfig, this.memory, () => this.devices.delete(name));
    this.devices.set(name, device);
    return device;
  }

  /** The device named `name` (what a driver attaches to). */
  device(name: string): LoopbackDevice {
    const d = this.devices.get(name);
    if (d === undefined) throw new VduseBlkError(`no loopback device named '${name}'`, 'ENODEV');
    return d;
  }
}

export class LoopbackDevice implements VduseDeviceChannel {
  readonly name: string;
  readonly offeredFeatures: bigint;
  readonly configSpace: Uint8Array;
  readonly vqAlign: number;
  readonly vqs: LoopbackVq[];
  readonly memory: LoopbackGuestMemory;
  readonly iotlb = new LoopbackIotlb();
  status = 0;
  driverFeatures = 0n;
  private handler: ControlMessageHandler | null = null;
  private nextRequestId = 1;
  private destroyed = false;

  constructor(devConfig: Uint8Array, memory: GuestMemoryOptions, private readonly onDestroy: () => void) {
    const cfg = decodeDevConfig(devConfig);
    validate(cfg);
    this.name = cfg.name;
    this.offeredFeatures = cfg.features;
    this.configSpace = cfg.config.slice();
    this.vqAlign = cfg.vqAlign;
    const n = native();
    this.vqs = Array.from({ length: cfg.vqNum }, () => ({
      maxSize: 0, num: 0, descAddr: 0, driverAddr: 0, deviceAddr: 0, availIndex: 0, ready: false,
      kickFd: -1, kicked: false, irqFd: n.eventfd(0, n.constants.EFD_NONBLOCK | n.constants.EFD_CLOEXEC),
    }));
    this.memory = new LoopbackGuestMemory(memory);
    this.iotlb.set(this.memory.iotlbEntries());
  }

  // ---- the device side (VduseDeviceChannel) ----

  vqSetup(index: number, maxSize: number): void {
    this.vq(index).maxSize = maxSize;
  }

  getFeatures(): bigint {
    return this.driverFeatures;
  }

  vqGetInfo(index: number): VqInfo {
    const q = this.vq(index);
    return { index, num: q.num, descAddr: BigInt(q.descAddr), driverAddr: BigInt(q.driverAddr),
      deviceAddr: BigInt(q.deviceAddr), availIndex: q.availIndex, ready: q.ready };
  }

  setupKickfd(index: number, fd: number): void {
    const q = this.vq(index);
    if (q.kickFd >= 0) native().close(q.kickFd);
    q.kickFd = fd >= 0 ? native().dup(fd) : -1;
    if (q.kickFd >= 0 && q.kicked && q.ready) {
      q.kicked = false;
      native().write(q.kickFd, ONE);
    }
  }

  serve(handler: ControlMessageHandler): void {
    this.handler = handler;
  }

  workerDevice(): DeviceDescriptor {
    return { kind: 'loopback', iotlb: this.iotlb.buffer, irqFds: this.vqs.map((q) => q.irqFd) };
  }

  /** The loopback bus has no driver of its own: a LoopbackBlkDriver probes explicitly. */
  async attach(): Promise<AttachResult> {
    return { blockDevice: null };
  }

  /** Like virtio_dev_remove after VDPA_CMD_DEV_DEL: reset, then ACKNOWLEDGE again (reference §1.10). */
  async detach(): Promise<void> {
    if (this.status === 0) return;
    await this.setStatus(0);
    await this.setStatus(1);
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    this.handler = null;
    for (const q of this.vqs) {
      if (q.kickFd >= 0) native().close(q.kickFd);
      native().close(q.irqFd);
    }
    this.memory.close();
    this.onDestroy();
  }

  // ---- the driver side (what virtio_vdpa calls: vdpa config ops) ----

  /** set_status: sends SET_STATUS and keeps the new status only if the device accepted it. */
  async setStatus(status: number): Promise<boolean> {
    const ok = (await this.send({ type: 'set-status', requestId: 0, status })).result === VDUSE_REQ_RESULT_OK;
    if (status === 0) this.reset();
    else if (ok) this.status = status;
    return ok;
  }

  /** set_driver_features (no message, as in the kernel). */
  setDriverFeatures(features: bigint): void {
    this.driverFeatures = features;
  }

  /** set_vq_num / set_vq_address / set_vq_state / set_vq_ready in one call. */
  setVq(index: number, setup: Partial<Pick<LoopbackVq, 'num' | 'descAddr' | 'driverAddr' | 'deviceAddr' |
    'availIndex' | 'ready'>>): void {
    Object.assign(this.vq(index), setup);
  }

  /** kick_vq: signals the device's kick eventfd, or latches the kick. */
  kick(index: number): void {
    const q = this.vq(index);
    if (!q.ready) return;
    if (q.kickFd >= 0) native().write(q.kickFd, ONE);
    else q.kicked = true;
  }

  /** get_vq_state: GET_VQ_STATE (vhost-vdpa sends it; virtio_vdpa never does). */
  async getVqState(index: number): Promise<number | null> {
    const res = await this.send({ type: 'get-vq-state', requestId: 0, index });
    return res.result === VDUSE_REQ_RESULT_OK ? res.vqState.availIndex : null;
  }

  /**
   * set_map: replaces the IOTLB entries, then sends UPDATE_IOTLB for
   * [start, last] as vhost-vdpa does; the device must drop stale mappings
   * before it answers.
   */
  async updateIotlb(entries: readonly LoopbackIotlbEntry[], start = 0n, last = (1n << 64n) - 1n): Promise<boolean> {
    this.iotlb.set(entries);
    const res = await this.send({ type: 'update-iotlb', requestId: 0, start, last });
    return res.result === VDUSE_REQ_RESULT_OK;
  }

  /** get_config. */
  readConfig(): Uint8Array {
    return this.configSpace.slice();
  }

  /** Whether the device may raise interrupts (VQ_INJECT_IRQ needs DRIVER_OK in the kernel). */
  get driverOk(): boolean {
    return (this.status & VIRTIO_CONFIG_S_DRIVER_OK) !== 0;
  }

  private async send(req: VduseDevRequest): Promise<ReturnType<typeof decodeDevResponse>> {
    if (this.handler === null) throw new VduseBlkError(`device '${this.name}' is not being served`, 'EIO');
    const requestId = this.nextRequestId++ >>> 0;
    const res = decodeDevResponse(await this.handler(encodeDevRequest({ ...req, requestId })));
    if (res.requestId !== requestId) throw new VduseBlkError(`reply for request ${res.requestId}, expected ${requestId}`, 'ENOENT');
    return res;
  }

  /** vduse_dev_reset: forget features, queue state and kick fds. */
  private reset(): void {
    this.status = 0;
    this.driverFeatures = 0n;
    for (const q of this.vqs) {
      if (q.kickFd >= 0) native().close(q.kickFd);
      Object.assign(q, { num: 0, descAddr: 0, driverAddr: 0, deviceAddr: 0, availIndex: 0, ready: false,
        kickFd: -1, kicked: false });
    }
    this.iotlb.set(this.memory.iotlbEntries());
  }

  private vq(index: number): LoopbackVq {
    const q = this.vqs[index];
    if (q === undefined) throw new VduseBlkError(`virtqueue ${index} does not exist`, 'EINVAL');
    return q;
  }
}

/** The checks VDUSE_CREATE_DEV makes (reference §1.7). */
function validate(cfg: ReturnType<typeof decodeDevConfig>): void {
  const fail = (why: string): never => { throw new VduseBlkError(`invalid device config: ${why}`, 'EINVAL'); };
  if (cfg.name.length === 0) fail('empty name');
  if (cfg.vqAlign > 4096) fail('vq_align above PAGE_SIZE');
  if (cfg.config.length > 4096) fail('config_size above PAGE_SIZE');
  if (cfg.vqNum > 0xffff) fail('vq_num above 0xffff');
  if (cfg.deviceId !== VIRTIO_ID_BLOCK) fail(`device id ${cfg.deviceId} not allowed`);
  if (!hasFeature(cfg.features, VIRTIO_F_ACCESS_PLATFORM)) fail('VIRTIO_F_ACCESS_PLATFORM missing');
  if (hasFeature(cfg.features, VIRTIO_BLK_F_CONFIG_WCE)) fail('VIRTIO_BLK_F_CONFIG_WCE offered');
}
