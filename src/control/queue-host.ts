/**
 * Hosts one queue worker: creates its kick and wake eventfds and its control
 * block, starts the thread (referenced only by file URL: the control plane
 * never imports worker code), and stops it. All waits are asynchronous.
 */
import type { Worker } from 'node:worker_threads';
import { native } from '../shared/native.js';
import { QueueControl, QueueState } from '../shared/queue-control.js';
import { WorkerError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { QueueWorkerData, WorkerMessage } from '../shared/worker-data.js';
import { startWorker } from './worker-start.js';

const QUEUE_WORKER_URL = new URL('../workers/queue-worker.js', import.meta.url);
const ONE = new Uint8Array(new BigUint64Array([1n]).buffer);

/** What to start a worker with; the host adds the fds and the control block. */
export type QueueSpec = Omit<QueueWorkerData, 'kickFd' | 'wakeFd' | 'control'>;

export class QueueHost {
  readonly control = new QueueControl();
  /** How the worker's file backend does its I/O ('sync', 'uring' or 'threads'), once it has started. */
  io: string | undefined;
  readonly kickFd: number;
  private readonly wakeFd: number;
  private readonly worker: Worker;
  private readonly exited: Promise<number>;
  private closed = false;

  private constructor(readonly spec: QueueSpec, private readonly log: Logger) {
    const n = native();
    const flags = n.constants.EFD_NONBLOCK | n.constants.EFD_CLOEXEC;
    this.kickFd = n.eventfd(0, flags);
    this.wakeFd = n.eventfd(0, flags);
    const data: QueueWorkerData = { ...spec, kickFd: this.kickFd, wakeFd: this.wakeFd, control: this.control.buffer };
    this.worker = startWorker(QUEUE_WORKER_URL, { workerData: data, name: `vduse-q${spec.queueIndex}` }, log);
    this.worker.on('message', (m: WorkerMessage) => this.onMessage(m));
    this.worker.on('error', (err) => log.error({ queue: spec.queueIndex, err }, 'queue worker crashed'));
    this.exited = new Promise((resolve) => this.worker.once('exit', resolve));
  }

  /** Starts a worker and resolves once it serves (or has failed, which is logged). */
  static async start(spec: QueueSpec, log: Logger, timeoutMs = 10_000): Promise<QueueHost> {
    const host = new QueueHost(spec, log);
    const running = host.control.waitState((s) => s === QueueState.RUNNING || s === QueueState.FAILED, timeoutMs);
    const early = host.exited.then((code) => { throw new WorkerError(`queue ${spec.queueIndex} worker exited (${code}) before serving`); });
    const state = await Promise.race([running, early]);
    if (state !== QueueState.RUNNING && state !== QueueState.FAILED) {
      await host.stop(1000);
      throw new WorkerError(`queue ${spec.queueIndex} worker did not start within ${timeoutMs} ms`);
    }
    return host;
  }

  /** Asks the worker to finish in-flight requests, unmap everything and exit; then closes the fds. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.control.requestStop();
    this.wake();
    const state = await Promise.race([
      this.control.waitState((s) => s === QueueState.STOPPED, timeoutMs),
      this.exited.then(() => this.control.state),
    ]);
    if (state !== QueueState.STOPPED) {
      this.log.warn({ queue: this.spec.queueIndex, state }, 'queue worker did not stop in time; terminating it');
      await this.worker.terminate();
    }
    await this.exited;
    native().close(this.kickFd);
    native().close(this.wakeFd);
  }

  /**
   * UPDATE_IOTLB: the worker drops every mapping overlapping [start, last]
   * after its in-flight I/O finished. Resolves true once acknowledged.
   */
  async invalidateIotlb(start: bigint, last: bigint, timeoutMs = 10_000): Promise<boolean> {
    if (this.closed) return true;
    const gen = this.control.announceIotlbChange(start, last);
    this.wake();
    return this.control.waitIotlbAck(gen, timeoutMs);
  }

  private wake(): void {
    native().write(this.wakeFd, ONE);
  }

  private onMessage(m: WorkerMessage): void {
    const queue = m.queueIndex;
    if (m.type === 'started') {
      this.io = m.io;
      this.log.debug({ queue, tid: m.tid, cpus: m.cpus, io: m.io }, 'queue worker started');
    }
    else if (m.type === 'queue-failed') this.log.error({ queue, reason: m.reason }, 'queue stopped: driver error');
    else this.log.error({ queue, error: m.message }, 'queue worker failed');
  }
}
