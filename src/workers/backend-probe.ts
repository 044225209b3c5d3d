/**
 * Entry point of a short-lived worker that DeviceServer.create starts before
 * the device exists, for a module backend: opens the backend as queue 0's
 * worker would, checks that it holds the whole device, closes it and says
 * so. A module that fails to load, a factory that throws and a backend that
 * is too small then fail create() with a clear error. Found only once the
 * driver is ready, they would leave a queue that never serves, and Linux's
 * virtio_blk waits for its requests forever (while probing, with the vDPA
 * bus lock held: every other vdpa command on the host would hang too).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { BackendProbeData, BackendProbeResult } from '../shared/worker-data.js';
import { openBackend } from './backends/index.js';

const data = workerData as BackendProbeData;

async function probe(): Promise<BackendProbeResult> {
  const backend = await openBackend(data.backend, { queueIndex: 0 });
  try {
    if (!(backend.size >= data.deviceSize)) {
      return { ok: false, message: `it holds ${backend.size} bytes, less than the ${data.deviceSize}-byte device` };
    }
    return { ok: true };
  } finally {
    await backend.close();
  }
}

probe().then(
  (result) => parentPort?.postMessage(result),
  (err: unknown) => parentPort?.postMessage({ ok: false, message: (err as Error)?.message ?? String(err) }),
);
