/**
 * The control plane of one virtio-blk device: creates it, answers its
 * control messages (SET_STATUS, GET_VQ_STATE, UPDATE_IOTLB) without ever
 * blocking the main thread, starts one worker per ready queue on DRIVER_OK,
 * stops them on reset, and tears the device down in the documented order.
 */
import { stat } from 'node:fs/promises';
import { decodeDevRequest, encodeDevResponse, type VduseDevRequest } from '../shared/layouts/index.js';
import { VDUSE_REQ_RESULT_FAILED, VDUSE_REQ_RESULT_OK } from '../shared/vduse.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import type { BackendDescriptor } from '../shared/worker-data.js';
import type { QueueCounters } from '../shared/queue-control.js';
import { blkSettings, devConfig, offeredFeatures, type BlkDeviceShape } from './blk-config.js';
import { featureProblem, statusActions } from './status.js';
import { QueueHost } from './queue-host.js';
import { setIrqAffinity } from './irq-affinity.js';
import { checkBackendFits } from './backend-fit.js';
import { probeBackend } from './backend-probe.js';
import type { AttachResult, VduseDeviceChannel, VduseTransport } from '../shared/transport.js';

export interface DeviceServerOptions {
  transport: VduseTransport;
  shape: BlkDeviceShape;
  backend: BackendDescriptor;
  /** CPUs to pin queue workers to: queue i runs on cpus[i % cpus.length]. */
  cpus?: readonly number[] | undefined;
  /** With `cpus`: also point each queue's IRQ work at its worker's CPU where the kernel allows (default true). */
  irqAffinity?: boolean | undefined;
  /** Microseconds each queue worker polls its ring after running dry before sleeping (default 0). */
  pollMicros?: number | undefined;
  logger?: Logger | undefined;
}

/** Per-queue statistics. */
export interface QueueStats extends QueueCounters {
  queue: number;
  state: number;
  /** How the queue's file backend does its I/O: 'sync', 'uring' or 'threads' (absent for other backends). */
  io?: string;
}

export class DeviceServer {
  private status = 0;
  private driverFeatures = 0n;
  private hosts: QueueHost[] = [];
  /** Where each queue stopped, for GET_VQ_STATE after its worker is gone. */
  private readonly stoppedAt = new Map<number, number>();
  private attached = false;
  private stopping: Promise<void> | null = null;
  readonly offered: bigint;

  private constructor(
    private readonly o: DeviceServerOptions, private readonly channel: VduseDeviceChannel, private readonly log: Logger,
  ) {
    this.offered = offeredFeatures(o.shape);
  }

  /** Creates the device, sets up its queues and starts answering control messages. */
  static async create(o: DeviceServerOptions): Promise<DeviceServer> {
    // libuv starts its thread pool on first use, and new threads inherit the
    // creating thread's CPU affinity: start it here, unpinned, before a pinned
    // queue worker's first file I/O would start it on that worker's CPU only.
    await stat('/');
    checkBackendFits(o.backend, o.shape.size);
    const log = (o.logger ?? silentLogger()).child({ device: o.shape.name });
    await probeBackend(o.backend, o.shape.size, log);
    const channel = await o.transport.createDevice(o.shape.name, devConfig(o.shape));
    const server = new DeviceServer(o, channel, log);
    try {
      for (let q = 0; q < o.shape.queues; q++) channel.vqSetup(q, o.shape.queueSize);
    } catch (err) {
      await channel.destroy();
      throw err;
    }
    channel.serve((req) => server.handle(req));
    server.log.info({ transport: o.transport.kind, size: o.shape.size, queues: o.shape.queues,
      queueSize: o.shape.queueSize, features: `0x${server.offered.toString(16)}` }, 'device created');
    return server;
  }

  get name(): string {
    return this.o.shape.name;
  }

  /** The device status as last accepted. */
  get deviceStatus(): number {
    return this.status;
  }

  /** Attaches the device to the vDPA bus (VDPA_CMD_DEV_NEW) and waits for the driver. */
  async attach(): Promise<AttachResult> {
    const result = await this.channel.attach();
    this.attached = true;
    this.log.info({ blockDevice: result.blockDevice }, 'device attached');
    return result;
  }

  /** Detaches (if attached), stops every worker and destroys the device. Safe to call more than once. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  stats(): QueueStats[] {
    return this.hosts.map((h) => ({
      queue: h.spec.queueIndex, state: h.control.state, ...(h.io === undefined ? {} : { io: h.io }), ...h.control.counters(),
    }));
  }

  private async shutdown(): Promise<void> {
    if (this.attached) {
      // The driver flushes and resets through us during DEV_DEL: keep serving.
      await this.channel.detach();
      this.attached = false;
      this.log.info('device detached');
    }
    await this.stopQueues();
    await this.channel.destroy();
    this.log.info('device destroyed');
  }

  /** Answers one control message; never throws, so the kernel always gets a reply. */
  private async handle(bytes: Uint8Array): Promise<Uint8Array> {
    const req = decodeDevRequest(bytes);
    try {
      return await this.answer(req);
    } catch (err) {
      this.log.error({ err, request: req.type }, 'control message failed');
      return encodeDevResponse({ requestId: req.requestId, result: VDUSE_REQ_RESULT_FAILED });
    }
  }

  private async answer(req: VduseDevRequest): Promise<Uint8Array> {
    let result = VDUSE_REQ_RESULT_OK;
    switch (req.type) {
      case 'set-status':
        result = await this.setStatus(req.status);
        break;
      case 'get-vq-state':
        return encodeDevResponse({ requestId: req.requestId, result,
          vqState: { index: req.index, availIndex: this.vqState(req.index) } });
      case 'update-iotlb': {
        const acks = await Promise.all(this.hosts.map((h) => h.invalidateIotlb(req.start, req.last)));
        if (acks.includes(false)) this.log.error('a queue did not release its IOTLB mappings in time');
        break;
      }
      default:
        this.log.warn({ type: req.rawType }, 'unknown control message');
        result = VDUSE_REQ_RESULT_FAILED;
    }
    return encodeDevResponse({ requestId: req.requestId, result });
  }

  private async setStatus(status: number): Promise<number> {
    for (const action of statusActions(this.status, status)) {
      if (action === 'reset' || action === 'stop-queues') {
        await this.stopQueues();
        if (action === 'reset') {
          this.driverFeatures = 0n;
          this.stoppedAt.clear();
          this.log.info('device reset');
        }
      } else if (action === 'check-features') {
        const features = this.channel.getFeatures();
        const problem = featureProblem(this.offered, features);
        if (problem !== null) {
          this.log.warn({ features: `0x${features.toString(16)}` }, `features refused: ${problem}`);
          return VDUSE_REQ_RESULT_FAILED;
        }
        this.driverFeatures = features;
      } else {
        await this.startQueues();
      }
    }
    this.status = status;
    return VDUSE_REQ_RESULT_OK;
  }

  private async startQueues(): Promise<void> {
    const { shape, cpus, backend } = this.o;
    for (let q = 0; q < shape.queues; q++) {
      const info = this.channel.vqGetInfo(q);
      if (!info.ready) continue;
      const host = await QueueHost.start({
        queueIndex: q,
        ring: { size: info.num, descAddr: Number(info.descAddr), driverAddr: Number(info.driverAddr),
          deviceAddr: Number(info.deviceAddr), lastAvailIdx: info.availIndex },
        features: this.driverFeatures,
        device: this.channel.workerDevice(),
        backend: backend as BackendDescriptor,
        blk: blkSettings(shape),
        cpu: cpus !== undefined && cpus.length > 0 ? cpus[q % cpus.length]! : null,
        pollMicros: this.o.pollMicros ?? 0,
      }, this.log);
      this.hosts.push(host);
      this.channel.setupKickfd(q, host.kickFd);
      if (host.spec.cpu !== null && this.o.irqAffinity !== false && this.o.transport.kind === 'vduse') {
        await this.pinIrq(q, host.spec.cpu);
      }
    }
    this.log.info({ queues: this.hosts.length, features: `0x${this.driverFeatures.toString(16)}` }, 'driver ready');
  }

  /** After DRIVER_OK, because virtio_vdpa sets its own affinity while finding the queues. */
  private async pinIrq(queue: number, cpu: number): Promise<void> {
    try {
      const done = await setIrqAffinity(this.name, queue, cpu);
      this.log.debug({ queue, cpu, done }, done ? 'queue IRQ pinned' : 'kernel has no irq_cb_affinity');
    } catch (err) {
      this.log.warn({ queue, cpu, err }, 'could not set the queue IRQ affinity');
    }
  }

  private async stopQueues(): Promise<void> {
    const hosts = this.hosts;
    this.hosts = [];
    await Promise.all(hosts.map((h) => h.stop()));
    for (const h of hosts) {
      this.stoppedAt.set(h.spec.queueIndex, h.control.lastAvailIdx);
      const counters = Object.fromEntries(Object.entries(h.control.counters()).map(([k, v]) => [k, Number(v)]));
      this.log.debug({ queue: h.spec.queueIndex, ...counters }, 'queue stopped');
    }
  }

  /** GET_VQ_STATE: the queue's real position (its last_avail_idx). */
  private vqState(index: number): number {
    const host = this.hosts.find((h) => h.spec.queueIndex === index);
    if (host !== undefined) return host.control.lastAvailIdx;
    return this.stoppedAt.get(index) ?? this.channel.vqGetInfo(index).availIndex;
  }
}
