/**
 * Module backends for the tests of DeviceServer.create's backend probe:
 * each factory fails in one way, or counts how often it runs.
 */
import type { BlockBackend } from '../../src/workers/backends/backend.js';
import { MemoryBackend } from '../../src/workers/backends/memory.js';

export function throwing(): BlockBackend {
  throw new Error('no such volume: vol-7');
}

export async function rejecting(): Promise<BlockBackend> {
  await new Promise((resolve) => setTimeout(resolve, 10));
  throw new Error('store unreachable');
}

/** A RAM disk of `options.size` bytes. */
export function sized(options: { size: number }): BlockBackend {
  return new MemoryBackend(new SharedArrayBuffer(options.size));
}

export const notAFunction = 42;

/** A RAM disk for queue 0 (so the probe passes), an error for every other queue. */
export function onlyQueue0(options: { size: number }, context: { queueIndex: number }): BlockBackend {
  if (context.queueIndex !== 0) throw new Error(`queue ${context.queueIndex}: no path to the volume`);
  return sized(options);
}
