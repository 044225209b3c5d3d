/**
 * Starting the control plane's worker threads (queue workers, the backend
 * probe) with the right flags.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';
import type { Logger } from '../shared/logger.js';

/**
 * Flags for workers: the parent's, less module loaders and preloads.
 * Workers run only our own compiled code, and a loader (a test runner's
 * TypeScript hook, a coverage tool) costs each worker seconds to start.
 */
export function workerExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (/^--(import|loader|experimental-loader|require)$/.test(a) || a === '-r') i++;
    else if (!/^--(import|loader|experimental-loader|require)=/.test(a)) out.push(a);
  }
  return out;
}

let warnedExecArgv = false;

/**
 * A worker with the parent's flags (workerExecArgv), or with none when Node
 * refuses some of them for workers (ERR_WORKER_INVALID_EXEC_ARGV, e.g.
 * `node --single-threaded-gc`): process-wide V8 flags apply to every thread
 * anyway, and our workers need no other.
 */
export function startWorker(url: URL, options: Omit<WorkerOptions, 'execArgv'>, log: Logger): Worker {
  try {
    return new Worker(url, { ...options, execArgv: workerExecArgv() });
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw err;
    if (!warnedExecArgv) {
      warnedExecArgv = true;
      log.warn({ execArgv: process.execArgv, reason: (err as Error).message }, 'workers start without the process flags');
    }
    return new Worker(url, { ...options, execArgv: [] });
  }
}
