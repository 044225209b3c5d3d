/**
 * Starts the real product (control plane, queue worker threads, addon,
 * backends) against the loopback kernel and a loopback driver.
 */
import { mkdtempSync, openSync, closeSync, ftruncateSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeviceServer } from '../../src/control/device-server.js';
import type { BlkDeviceShape } from '../../src/control/blk-config.js';
import { LoopbackBlkDriver, LoopbackTransport, type LoopbackDriverOptions } from '../../src/loopback/index.js';
import type { GuestMemoryOptions } from '../../src/loopback/guest-memory.js';
import type { BackendDescriptor } from '../../src/shared/worker-data.js';
import { createLogger } from '../../src/shared/logger.js';
import { createMemoryDisk } from '../../src/control/memory-disk.js';

/** 'memory': a memfd RAM disk (createMemoryDisk); 'sab': a SharedArrayBuffer one. */
export type BackendKind = 'memory' | 'sab' | 'file';

export interface FixtureOptions {
  backend?: BackendKind;
  shape?: Partial<BlkDeviceShape>;
  driver?: LoopbackDriverOptions;
  memory?: GuestMemoryOptions;
  cpus?: number[];
  /** A backend descriptor to use instead of `backend` (e.g. a module backend). */
  backendOverride?: BackendDescriptor;
  /** Queue workers' busy-poll budget (DeviceServerOptions.pollMicros). */
  pollMicros?: number;
}

export interface Fixture {
  server: DeviceServer;
  transport: LoopbackTransport;
  driver: LoopbackBlkDriver;
  shape: BlkDeviceShape;
  /** The backend's bytes as they are now (the file's content or the shared buffer). */
  disk(): Uint8Array;
  filePath: string | null;
  close(): Promise<void>;
}

let counter = 0;

export async function startLoopback(o: FixtureOptions = {}): Promise<Fixture> {
  const shape: BlkDeviceShape = {
    name: `lb${process.pid}-${counter++}`, size: 4 << 20, queues: 1, queueSize: 64, logicalBlockSize: 512,
    serial: 'loopback-serial', readOnly: false, discard: true, writeZeroes: true, ...o.shape,
  };
  let backend: BackendDescriptor;
  let disk: () => Uint8Array;
  let filePath: string | null = null;
  let cleanup = (): void => {};
  const kind = o.backend ?? 'memory';
  if (kind === 'memory') {
    const ram = createMemoryDisk(shape.size);
    backend = ram.descriptor;
    disk = () => ram.bytes;
    cleanup = () => ram.close();
  } else if (kind === 'sab') {
    const buffer = new SharedArrayBuffer(shape.size);
    backend = { kind: 'memory', buffer };
    disk = () => new Uint8Array(buffer);
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'vduse-blk-test-'));
    filePath = join(dir, 'disk.img');
    const fd = openSync(filePath, 'w+');
    ftruncateSync(fd, shape.size);
    backend = { kind: 'file', fd, size: shape.size, readOnly: shape.readOnly };
    const { readFileSync } = await import('node:fs');
    const path = filePath;
    disk = () => new Uint8Array(readFileSync(path));
    cleanup = () => { closeSync(fd); rmSync(dir, { recursive: true, force: true }); };
  }
  if (o.backendOverride !== undefined) backend = o.backendOverride;
  const transport = new LoopbackTransport({ size: 16 << 20, ...o.memory });
  const logger = createLogger({ level: (process.env.VDUSE_TEST_LOG as 'debug' | undefined) ?? 'silent' });
  let server: DeviceServer;
  try {
    server = await DeviceServer.create({ transport, shape, backend, cpus: o.cpus, logger, pollMicros: o.pollMicros });
  } catch (err) {
    cleanup();
    throw err;
  }
  const driver = new LoopbackBlkDriver(transport.device(shape.name), o.driver);
  await driver.probe();
  return {
    server, transport, driver, shape, disk, filePath,
    async close() {
      driver.close();
      await server.stop();
      cleanup();
    },
  };
}

/** A small deterministic PRNG (mulberry32), so failures reproduce. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` random bytes from `rand`. */
export function randomBytes(rand: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (rand() * 256) | 0;
  return out;
}
