/**
 * Entry point of a queue worker thread: wires the real dependencies (device
 * ops, lazily mapped guest memory, backend, control block) around a
 * QueueLoop and watches the kick and wake eventfds on this thread's loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { native, type FdWatcher } from '../shared/native.js';
import { QueueControl, QueueState } from '../shared/queue-control.js';
import type { DeviceDescriptor, QueueWorkerData, WorkerMessage } from '../shared/worker-data.js';
import { openBackend } from './backends/index.js';
import { FailingBackend } from './backends/failing.js';
import { VIRTIO_BLK_SECTOR_SIZE } from '../shared/virtio.js';
import type { DeviceOps } from './device/device-ops.js';
import { LoopbackDeviceOps } from './device/loopback-ops.js';
import { VduseDeviceOps } from './device/vduse-ops.js';
import { IovaMap } from './iova-map.js';
import { QueueLoop } from './queue-loop.js';

const data = workerData as QueueWorkerData;
const control = new QueueControl(data.control);
const post = (msg: WorkerMessage): void => parentPort?.postMessage(msg);
const eventfdValue = new Uint8Array(8);

function deviceOps(d: DeviceDescriptor): DeviceOps {
  return d.kind === 'vduse' ? new VduseDeviceOps(d.devFd) : new LoopbackDeviceOps(d.iotlb, d.irqFds);
}

/** Reads an eventfd to reset its counter; -1 means it was not readable after all. */
function consume(fd: number): boolean {
  return native().read(fd, eventfdValue) > 0;
}

async function main(): Promise<void> {
  const n = native();
  control.setState(QueueState.STARTING);
  n.setThreadName(`vduse-q${data.queueIndex}`);
  if (data.cpu !== null) n.setAffinity([data.cpu]);
  const device = deviceOps(data.device);
  const memory = new IovaMap(device);
  const backend = await openBackend(data.backend, { queueIndex: data.queueIndex }).catch((err: unknown) => {
    const error = err instanceof Error ? err : new Error(String(err));
    post({ type: 'error', queueIndex: data.queueIndex,
      message: `the backend did not open, so every request on this queue fails: ${error.stack ?? error.message}` });
    return new FailingBackend(data.blk.capacitySectors * VIRTIO_BLK_SECTOR_SIZE, error);
  });
  const loop = new QueueLoop({
    queueIndex: data.queueIndex,
    ring: data.ring,
    features: data.features,
    memory,
    device,
    backend,
    blk: data.blk,
    control,
    pollMicros: data.pollMicros,
    onFailed: (reason) => post({ type: 'queue-failed', queueIndex: data.queueIndex, reason }),
  });

  let stopping = false;
  const watchers: FdWatcher[] = [];
  const stop = async (): Promise<void> => {
    stopping = true;
    if (control.state !== QueueState.FAILED) control.setState(QueueState.STOPPING);
    await loop.quiesce();
    for (const w of watchers) w.close();
    loop.dropRing();
    memory.clear();
    await backend.close();
    control.setState(QueueState.STOPPED);
  };
  const onWake = (): void => {
    consume(data.wakeFd);
    if (stopping) return;
    if (control.stopRequested) {
      void stop();
      return;
    }
    const gen = control.iotlbGeneration;
    if (gen !== control.iotlbAck) void remap(gen);
  };
  // UPDATE_IOTLB: in-flight I/O into the range finishes before it is unmapped.
  const remap = async (gen: number): Promise<void> => {
    await loop.quiesce();
    loop.dropRing();
    const { start, last } = control.iotlbRange;
    memory.invalidate(start, last);
    control.ackIotlb(gen);
    loop.resume();
    if (control.iotlbGeneration !== gen) onWake();
  };

  const { UV_READABLE } = n.constants;
  watchers.push(n.watch(data.kickFd, UV_READABLE, () => {
    if (consume(data.kickFd) && !stopping) loop.kick();
  }));
  watchers.push(n.watch(data.wakeFd, UV_READABLE, onWake));
  control.setState(QueueState.RUNNING);
  const io = (backend as { io?: unknown }).io; // file backends say 'sync', 'uring' or 'threads'
  post({ type: 'started', queueIndex: data.queueIndex, tid: n.gettid(), cpus: n.getAffinity(),
    ...(typeof io === 'string' ? { io } : {}) });
  // A kick may have been signalled before we watched the fd, and a stop may
  // already be pending: look at both once.
  onWake();
  if (!stopping) loop.drain();
}

main().catch((err: unknown) => {
  post({ type: 'error', queueIndex: data.queueIndex, message: (err as Error).stack ?? String(err) });
  control.setState(QueueState.FAILED);
});
