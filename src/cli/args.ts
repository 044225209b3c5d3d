/**
 * `vduse-blk serve` options: parsing and validation. Everything the kernel
 * would reject later (or, worse, accept and misbehave on) is rejected here
 * with a message that names the flag, before any device is created.
 */
import { parseArgs } from 'node:util';
import { VDUSE_NAME_MAX } from '../shared/vduse.js';
import { VIRTIO_BLK_ID_BYTES, VIRTQ_MAX_SIZE } from '../shared/virtio.js';
import { formatCpuList, parseCpuList, readOnlineCpus } from './cpus.js';
import { HelpRequested, UsageError } from './errors.js';
import { formatSize, parseSize } from './size.js';

export { cpuForQueue, formatCpuList, parseCpuList, readOnlineCpus } from './cpus.js';
export { HelpRequested, UsageError } from './errors.js';
export { formatSize, parseSize } from './size.js';

/** pino's level names; 'silent' turns logging off. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LOGICAL_BLOCK_SIZES = [512, 1024, 2048, 4096] as const;

export const DEFAULT_QUEUES = 1;
export const DEFAULT_QUEUE_SIZE = 256;
export const DEFAULT_LOGICAL_BLOCK_SIZE = 512;
/** One line per lifecycle event (created, attached, stopped); per-request detail needs 'debug'. */
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

/**
 * VDUSE itself takes up to 0xffff virtqueues, but virtio_blk uses at most
 * nr_cpu_ids of them and each queue here costs a worker thread, so more than
 * this is a typo rather than a configuration.
 */
export const MAX_QUEUES = 256;
export const MIN_QUEUES = 1;
/** Split virtqueue sizes are powers of two up to 32768 (virtio 1.2 §2.7). */
export const MIN_QUEUE_SIZE = 2;
export const MAX_QUEUE_SIZE = VIRTQ_MAX_SIZE;
/** VDUSE_NAME_MAX counts the terminating NUL. */
export const MAX_NAME_BYTES = VDUSE_NAME_MAX - 1;
/** The GET_ID answer is a fixed 20-byte field, NUL-padded only when shorter. */
export const MAX_SERIAL_BYTES = VIRTIO_BLK_ID_BYTES;

/** Longest busy-poll a queue worker may do before sleeping (1 ms). */
export const MAX_POLL_MICROS = 1000;

export interface ServeOptions {
  /** VDUSE device name: /dev/vduse/NAME, /sys/class/vduse/NAME and the vdpa device name. */
  name: string;
  file: string;
  /** Bytes; when given, the file is created or grown (sparse) to this size. */
  size?: number;
  queues: number;
  queueSize: number;
  logicalBlockSize: number;
  serial?: string;
  readOnly: boolean;
  writethrough: boolean;
  discard: boolean;
  /** Queue i runs on cpuForQueue(cpus, i); absent: threads are not pinned. */
  cpus?: number[];
  irqAffinity: boolean;
  /** Microseconds a worker keeps polling its ring after running dry before it sleeps on the kick fd. */
  pollMicros: number;
  attach: boolean;
  logLevel: LogLevel;
}

export interface ServeArgsDeps {
  /** The online CPUs, for checking --cpus; defaults to reading /sys/devices/system/cpu/online. */
  onlineCpus?: () => readonly number[];
}

/** The flag table. Every entry is documented in serveHelp() (a unit test checks that). */
export const SERVE_FLAGS = {
  name: { type: 'string' },
  file: { type: 'string' },
  size: { type: 'string' },
  queues: { type: 'string' },
  'queue-size': { type: 'string' },
  'logical-block-size': { type: 'string' },
  serial: { type: 'string' },
  readonly: { type: 'boolean' },
  writethrough: { type: 'boolean' },
  'no-discard': { type: 'boolean' },
  cpus: { type: 'string' },
  'no-irq-affinity': { type: 'boolean' },
  'poll-us': { type: 'string' },
  'no-attach': { type: 'boolean' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type FlagTable = Record<string, { readonly type: 'string' | 'boolean'; readonly short?: string }>;
type FlagValues = Map<string, string | true>;

/**
 * Parses the arguments after `serve`. Throws UsageError (exit status 2) on
 * anything wrong, HelpRequested if -h/--help is present.
 */
export function parseServeArgs(argv: string[], deps: ServeArgsDeps = {}): ServeOptions {
  const flags = scanFlags(argv, SERVE_FLAGS, 'serve');
  const fail = (message: string): never => {
    throw new UsageError(message, 'serve');
  };

  const missing = ['name', 'file'].filter((f) => !flags.has(f)).map((f) => `--${f}`);
  if (missing.length > 0) fail(`missing required option${missing.length > 1 ? 's' : ''} ${missing.join(' and ')}`);

  const name = flags.get('name') as string;
  checkName(name, fail);
  const file = flags.get('file') as string;
  if (file === '') fail('--file must not be empty');

  const logicalBlockSize = choice(flags, 'logical-block-size', LOGICAL_BLOCK_SIZES, DEFAULT_LOGICAL_BLOCK_SIZE, fail);
  const readOnly = flags.has('readonly');

  const opts: ServeOptions = {
    name,
    file,
    queues: integer(flags, 'queues', MIN_QUEUES, MAX_QUEUES, DEFAULT_QUEUES, fail),
    queueSize: integer(flags, 'queue-size', MIN_QUEUE_SIZE, MAX_QUEUE_SIZE, DEFAULT_QUEUE_SIZE, fail),
    logicalBlockSize,
    readOnly,
    writethrough: flags.has('writethrough'),
    discard: !flags.has('no-discard'),
    irqAffinity: !flags.has('no-irq-affinity'),
    pollMicros: integer(flags, 'poll-us', 0, MAX_POLL_MICROS, 0, fail),
    attach: !flags.has('no-attach'),
    logLevel: choice(flags, 'log-level', LOG_LEVELS, DEFAULT_LOG_LEVEL, fail),
  };
  if ((opts.queueSize & (opts.queueSize - 1)) !== 0) {
    fail(`--queue-size must be a power of two from ${MIN_QUEUE_SIZE} to ${MAX_QUEUE_SIZE}, got '${flags.get('queue-size')}'`);
  }

  const sizeText = flags.get('size') as string | undefined;
  if (sizeText !== undefined) {
    // Creating or growing the file is a write; a read-only device must not do that behind the user's back.
    if (readOnly) fail('--size cannot be used with --readonly (it creates or grows the file)');
    let size = 0;
    try {
      size = parseSize(sizeText);
    } catch (err) {
      fail(`--size: ${(err as Error).message}`);
    }
    if (size % logicalBlockSize !== 0) {
      fail(`--size ${sizeText} (${size} bytes) is not a multiple of the logical block size (${logicalBlockSize} bytes)`);
    }
    opts.size = size;
  }

  const serial = flags.get('serial') as string | undefined;
  if (serial !== undefined) {
    if (serial === '') fail('--serial must not be empty (leave it out for no serial)');
    if (!/^[\x20-\x7e]*$/.test(serial)) fail(`--serial must be printable ASCII, got '${JSON.stringify(serial).slice(1, -1)}'`);
    if (serial.length > MAX_SERIAL_BYTES) fail(`--serial is ${serial.length} bytes, at most ${MAX_SERIAL_BYTES} fit the virtio-blk ID field`);
    opts.serial = serial;
  }

  const cpusText = flags.get('cpus') as string | undefined;
  if (cpusText !== undefined) opts.cpus = checkCpus(cpusText, deps, fail);

  return opts;
}

function checkName(name: string, fail: (m: string) => never): void {
  // The name becomes a path component under /dev/vduse and /sys/class/vduse,
  // and a vdpa device name: a conservative charset keeps all three happy.
  if (name === '') fail('--name must not be empty');
  if (!/^[A-Za-z0-9._-]+$/.test(name)) fail(`--name may contain only letters, digits, '.', '_' and '-', got '${name}'`);
  if (name === '.' || name === '..') fail(`--name cannot be '${name}'`);
  if (name.length > MAX_NAME_BYTES) fail(`--name is ${name.length} bytes long, at most ${MAX_NAME_BYTES} are allowed`);
}

function checkCpus(text: string, deps: ServeArgsDeps, fail: (m: string) => never): number[] {
  let cpus: number[] = [];
  try {
    cpus = parseCpuList(text);
  } catch (err) {
    fail(`--cpus: ${(err as Error).message}`);
  }
  let online: readonly number[];
  try {
    online = (deps.onlineCpus ?? readOnlineCpus)();
  } catch (err) {
    // Not a usage error: the system, not the user, is at fault. Exit status 1.
    throw new Error(`cannot check --cpus against the online CPUs: ${(err as Error).message}`, { cause: err });
  }
  const onlineSet = new Set(online);
  const offline = cpus.filter((c) => !onlineSet.has(c));
  if (offline.length > 0) {
    const which = offline.length === 1 ? `CPU ${offline[0]} is` : `CPUs ${formatCpuList(offline)} are`;
    fail(`--cpus: ${which} not online (online: ${formatCpuList([...online].sort((a, b) => a - b))})`);
  }
  return cpus;
}

/** Plain decimal only: "0x10", "1e3", "+4" and " 4" are more likely mistakes than intent. */
function integer(flags: FlagValues, flag: string, min: number, max: number, dflt: number, fail: (m: string) => never): number {
  const text = flags.get(flag) as string | undefined;
  if (text === undefined) return dflt;
  const n = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) fail(`--${flag} must be a whole number from ${min} to ${max}, got '${text}'`);
  return n;
}

function choice<T extends string | number>(
  flags: FlagValues,
  flag: string,
  allowed: readonly T[],
  dflt: T,
  fail: (m: string) => never,
): T {
  const text = flags.get(flag) as string | undefined;
  if (text === undefined) return dflt;
  const found = allowed.find((a) => String(a) === text);
  if (found === undefined) {
    const list = allowed.map(String);
    fail(`--${flag} must be ${list.slice(0, -1).join(', ')} or ${list.at(-1)}, got '${text}'`);
  }
  return found as T;
}

/**
 * Runs node:util parseArgs in non-strict mode and applies our own strictness
 * on its tokens, so every message is ours, names the flag as typed, and says
 * what to do. Returns flag name → value (true for booleans).
 */
export function scanFlags(argv: string[], table: FlagTable, command: string | undefined): FlagValues {
  const { tokens } = parseArgs({ args: argv, options: table, strict: false, allowPositionals: true, tokens: true });
  const fail = (message: string): never => {
    throw new UsageError(message, command);
  };
  // Help wins over every other problem on the line.
  if (tokens.some((t) => t.kind === 'option' && t.name === 'help' && 'help' in table)) throw new HelpRequested(command);

  const values: FlagValues = new Map();
  for (const t of tokens) {
    if (t.kind === 'option-terminator') continue;
    if (t.kind === 'positional') fail(`unexpected argument '${t.value}'`);
    if (t.kind !== 'option') continue;
    const spec = table[t.name];
    if (spec === undefined) {
      const guess = suggest(t.name, Object.keys(table));
      fail(`unknown option '${t.rawName}'${guess === undefined ? '' : ` (did you mean '--${guess}'?)`}`);
    }
    const flag = `--${t.name}`;
    if (values.has(t.name)) fail(`option '${flag}' was given more than once`);
    if (spec?.type === 'boolean') {
      if (t.value !== undefined) fail(`option '${flag}' takes no value, got '${t.rawName}=${t.value}'`);
      values.set(t.name, true);
      continue;
    }
    if (t.value === undefined) fail(`option '${flag}' needs a value`);
    // parseArgs takes the next word as the value even when it looks like a
    // flag ("--name --file x"); that is nearly always a forgotten value.
    if (!t.inlineValue && t.value?.startsWith('-')) {
      fail(`option '${flag}' needs a value, got '${t.value}' (write ${flag}=${t.value} if that is the value)`);
    }
    values.set(t.name, t.value as string);
  }
  return values;
}

/** The known flag closest to a mistyped one (edit distance ≤ 2), e.g. 'read-only' → 'readonly'. */
function suggest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return name.length > 1 ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const sub = (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur.push(Math.min(sub, (prev[j] as number) + 1, (cur[j - 1] as number) + 1));
    }
    prev = cur;
  }
  return prev[b.length] as number;
}

/** One line for the startup log, e.g. "disk0: /srv/d.img 10G, 4 queues x 256, 512-byte blocks". */
export function describeServeOptions(o: ServeOptions): string {
  const parts = [
    `${o.name}: ${o.file}${o.size === undefined ? '' : ` ${formatSize(o.size)}`}`,
    `${o.queues} queue${o.queues === 1 ? '' : 's'} x ${o.queueSize}`,
    `${o.logicalBlockSize}-byte blocks`,
  ];
  if (o.readOnly) parts.push('read-only');
  if (o.writethrough) parts.push('writethrough');
  if (!o.discard) parts.push('no discard');
  if (o.cpus !== undefined) parts.push(`cpus ${formatCpuList(o.cpus)}`);
  return parts.join(', ');
}
