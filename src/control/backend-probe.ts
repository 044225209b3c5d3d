/**
 * Opening a module backend once, in a worker, before the device is created
 * (src/workers/backend-probe.ts says why).
 */
import { BackendError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { BackendDescriptor, BackendProbeData, BackendProbeResult } from '../shared/worker-data.js';
import { startWorker } from './worker-start.js';

const PROBE_URL = new URL('../workers/backend-probe.js', import.meta.url);

/**
 * Throws {@link BackendError} when a module backend does not load, open or
 * hold `deviceSize` bytes within `timeoutMs`. Other kinds are checked in
 * this thread (checkBackendFits). The factory runs once more than the
 * queues need, for queue 0, and its backend is closed at once.
 */
export async function probeBackend(
  backend: BackendDescriptor, deviceSize: number, log: Logger, timeoutMs = 30_000,
): Promise<void> {
  if (backend.kind !== 'module') return;
  const data: BackendProbeData = { backend, deviceSize };
  const worker = startWorker(PROBE_URL, { workerData: data, name: 'vduse-probe' }, log);
  let timer: NodeJS.Timeout | undefined;
  const result = await new Promise<BackendProbeResult>((resolve) => {
    worker.once('message', (m: BackendProbeResult) => resolve(m));
    worker.once('error', (err) => resolve({ ok: false, message: err.message }));
    worker.once('exit', (code) => resolve({ ok: false, message: `the probe worker exited (${code})` }));
    timer = setTimeout(() => resolve({ ok: false, message: `it did not open within ${timeoutMs} ms` }), timeoutMs);
  });
  clearTimeout(timer);
  await worker.terminate();
  if (!result.ok) {
    const name = `${backend.specifier}#${backend.exportName ?? 'createBackend'}`;
    throw new BackendError(`module backend ${name}: ${result.message}`);
  }
}
