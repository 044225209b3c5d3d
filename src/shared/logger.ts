/**
 * The logger factory: pino, structured, one line per lifecycle event, quiet
 * about requests. Every layer that logs takes a {@link Logger} from here.
 */
import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino';

export type Logger = PinoLogger;
export type LogLevel = LevelWithSilent;

export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go: a file descriptor (default 2, stderr, so stdout stays free for the device path). */
  fd?: number;
  /** Fields added to every line. */
  base?: Record<string, unknown>;
}

/** A pino logger writing synchronously to `fd` (lifecycle lines must not be lost on exit). */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    { level: options.level ?? 'info', base: { pid: process.pid, ...options.base } },
    pino.destination({ fd: options.fd ?? 2, sync: true }),
  );
}

/** A logger that drops everything (library default). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
