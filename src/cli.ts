#!/usr/bin/env node
/**
 * The `vduse-blk` command: composition root for the CLI. Parses arguments,
 * checks the host, opens the backing file, creates and attaches the device,
 * serves until SIGINT/SIGTERM, then detaches and destroys it.
 */
import { parseCommandLine } from './cli/command.js';
import { UsageError, formatUsageError } from './cli/errors.js';
import type { ServeOptions } from './cli/args.js';
import { createLogger, type Logger } from './shared/logger.js';
import { VduseBlkError } from './shared/errors.js';
import { checkVduseAvailable } from './control/preflight.js';
import { openBackingFile } from './control/backing-file.js';
import { DeviceServer } from './control/device-server.js';
import { KernelTransport } from './control/kernel-transport.js';

async function serve(o: ServeOptions, log: Logger): Promise<void> {
  const openFile = (): ReturnType<typeof openBackingFile> => openBackingFile({ path: o.file, size: o.size,
    readOnly: o.readOnly, writethrough: o.writethrough, logicalBlockSize: o.logicalBlockSize });
  // Without --size, opening only checks an existing file, so report its problems first; with --size it may
  // create or grow the file, so make sure VDUSE is there before touching anything.
  let file;
  if (o.size === undefined) {
    file = openFile();
    try {
      checkVduseAvailable();
    } catch (err) {
      file.close();
      throw err;
    }
  } else {
    checkVduseAvailable();
    file = openFile();
  }
  let server: DeviceServer | undefined;
  try {
    server = await DeviceServer.create({
      transport: new KernelTransport(),
      shape: {
        name: o.name, size: file.size, queues: o.queues, queueSize: o.queueSize, logicalBlockSize: o.logicalBlockSize,
        serial: o.serial ?? o.name.slice(0, 20), readOnly: o.readOnly, discard: o.discard, writeZeroes: true,
      },
      backend: { kind: 'file', fd: file.fd, size: file.size, readOnly: o.readOnly },
      cpus: o.cpus,
      irqAffinity: o.irqAffinity,
      pollMicros: o.pollMicros,
      logger: log,
    });
    if (o.attach) await server.attach();
    await untilSignal(log);
  } finally {
    await server?.stop();
    file.close();
  }
}

/** Resolves on the first SIGINT or SIGTERM; a second one exits at once. */
function untilSignal(log: Logger): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      log.info({ signal }, 'shutting down');
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      const force = (again: NodeJS.Signals): void => {
        log.warn({ signal: again }, 'second signal: exiting without cleanup');
        process.exit(130);
      };
      process.once('SIGINT', force);
      process.once('SIGTERM', force);
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

async function main(argv: string[]): Promise<number> {
  let command;
  try {
    command = parseCommandLine(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${formatUsageError(err)}\n`);
      return err.exitCode;
    }
    throw err;
  }
  if (command.kind !== 'serve') {
    process.stdout.write(`${command.text}\n`);
    return 0;
  }
  const log = createLogger({ level: command.options.logLevel });
  try {
    await serve(command.options, log);
    return 0;
  } catch (err) {
    if (err instanceof VduseBlkError) {
      process.stderr.write(`vduse-blk: ${err.message}\n`);
      log.debug({ err }, 'failed');
    } else {
      process.stderr.write(`vduse-blk: ${(err as Error).stack ?? String(err)}\n`);
    }
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
