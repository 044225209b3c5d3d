import t from 'tap';
import type { Test } from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cpuForQueue,
  describeServeOptions,
  formatCpuList,
  formatSize,
  HelpRequested,
  parseCpuList,
  parseServeArgs,
  parseSize,
  readOnlineCpus,
  SERVE_FLAGS,
  UsageError,
} from '../../src/cli/args.js';
import type { ServeOptions } from '../../src/cli/args.js';
import { parseCommandLine } from '../../src/cli/command.js';
import { formatUsageError } from '../../src/cli/errors.js';
import { serveHelp, topHelp } from '../../src/cli/help.js';

const ONLINE_0_7 = { onlineCpus: () => [0, 1, 2, 3, 4, 5, 6, 7] };
const BASE = ['--name', 'd0', '--file', '/tmp/d0.img'];

/** Parses BASE plus `extra` against a machine with CPUs 0-7 online. */
function serve(extra: string[] = []): ServeOptions {
  return parseServeArgs([...BASE, ...extra], ONLINE_0_7);
}

function usage(t: Test, argv: string[], message: string): void {
  t.throws(() => parseServeArgs(argv, ONLINE_0_7), { name: 'UsageError', message, exitCode: 2, command: 'serve' }, argv.join(' '));
}

t.test('defaults', async (t) => {
  t.strictSame(serve(), {
    name: 'd0',
    file: '/tmp/d0.img',
    queues: 1,
    queueSize: 256,
    logicalBlockSize: 512,
    readOnly: false,
    writethrough: false,
    discard: true,
    irqAffinity: true,
    pollMicros: 0,
    attach: true,
    logLevel: 'info',
  });
});

t.test('every flag', async (t) => {
  const o = parseServeArgs(
    [
      '--name=disk-1.a_b', '--file', 'x.img', '--size', '10G', '--queues', '4', '--queue-size', '1024',
      '--logical-block-size', '4096', '--serial', 'SN 0001', '--writethrough', '--no-discard',
      '--cpus', '4-7', '--no-irq-affinity', '--poll-us', '50', '--no-attach', '--log-level', 'debug',
    ],
    ONLINE_0_7,
  );
  t.strictSame(o, {
    name: 'disk-1.a_b',
    file: 'x.img',
    size: 10 * 2 ** 30,
    queues: 4,
    queueSize: 1024,
    logicalBlockSize: 4096,
    serial: 'SN 0001',
    readOnly: false,
    writethrough: true,
    discard: false,
    cpus: [4, 5, 6, 7],
    irqAffinity: false,
    pollMicros: 50,
    attach: false,
    logLevel: 'debug',
  });
  t.equal(serve(['--readonly']).readOnly, true);
  t.throws(() => serve(['--poll-us', '1001']), /--poll-us/, '--poll-us is bounded');
  for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) {
    t.equal(serve(['--log-level', level]).logLevel, level);
  }
  for (const bs of [512, 1024, 2048, 4096]) t.equal(serve(['--logical-block-size', String(bs)]).logicalBlockSize, bs);
  t.equal(serve(['--queues', '256']).queues, 256);
  t.equal(serve(['--queue-size', '2']).queueSize, 2);
  t.equal(serve(['--queue-size', '32768']).queueSize, 32768);
  t.equal(serve(['--serial', '12345678901234567890']).serial, '12345678901234567890');
  const named = (name: string) => parseServeArgs(['--name', name, '--file', 'f'], ONLINE_0_7).name;
  t.equal(named('a'.repeat(255)).length, 255);
  t.equal(named('...'), '...');
  t.equal(parseServeArgs(['--name=-x', '--file', 'f'], ONLINE_0_7).name, '-x');
  t.equal(parseServeArgs(['--name', 'n', '--file=-odd'], ONLINE_0_7).file, '-odd', 'a value starting with - can be given with =');
  t.match(describeServeOptions(o), 'disk-1.a_b: x.img 10G, 4 queues x 1024, 4096-byte blocks');
});

t.test('argument structure errors', async (t) => {
  usage(t, [...BASE, '--foo'], "unknown option '--foo'");
  usage(t, [...BASE, '--foo=1'], "unknown option '--foo'");
  usage(t, [...BASE, '-x'], "unknown option '-x'");
  usage(t, [...BASE, '--read-only'], "unknown option '--read-only' (did you mean '--readonly'?)");
  usage(t, [...BASE, '--queue', '2'], "unknown option '--queue' (did you mean '--queues'?)");
  usage(t, [...BASE, 'extra'], "unexpected argument 'extra'");
  usage(t, [...BASE, '--', '--x'], "unexpected argument '--x'");
  usage(t, ['--file', 'f'], 'missing required option --name');
  usage(t, ['--name', 'n'], 'missing required option --file');
  usage(t, [], 'missing required options --name and --file');
  usage(t, [...BASE, '--name', 'd1'], "option '--name' was given more than once");
  usage(t, [...BASE, '--readonly', '--readonly'], "option '--readonly' was given more than once");
  usage(t, [...BASE, '--queues'], "option '--queues' needs a value");
  usage(t, ['--name', '--file', 'x'], "option '--name' needs a value, got '--file' (write --name=--file if that is the value)");
  usage(t, [...BASE, '--readonly=yes'], "option '--readonly' takes no value, got '--readonly=yes'");
});

t.test('help wins over other problems', async (t) => {
  t.throws(() => parseServeArgs(['--help'], ONLINE_0_7), HelpRequested);
  t.throws(() => parseServeArgs(['--bogus', '-h'], ONLINE_0_7), { name: 'HelpRequested', exitCode: 0, command: 'serve' });
});

t.test('name and file', async (t) => {
  usage(t, ['--name', '', '--file', 'f'], '--name must not be empty');
  usage(t, ['--name', 'a/b', '--file', 'f'], "--name may contain only letters, digits, '.', '_' and '-', got 'a/b'");
  usage(t, ['--name', 'dïsk', '--file', 'f'], "--name may contain only letters, digits, '.', '_' and '-', got 'dïsk'");
  usage(t, ['--name', 'a b', '--file', 'f'], "--name may contain only letters, digits, '.', '_' and '-', got 'a b'");
  usage(t, ['--name', '.', '--file', 'f'], "--name cannot be '.'");
  usage(t, ['--name', '..', '--file', 'f'], "--name cannot be '..'");
  usage(t, ['--name', 'a'.repeat(256), '--file', 'f'], '--name is 256 bytes long, at most 255 are allowed');
  usage(t, ['--name', 'n', '--file', ''], '--file must not be empty');
});

t.test('numbers', async (t) => {
  for (const bad of ['0', '257', 'abc', '', '-1', '+2', '1.5', '0x4', '1e2', ' 2', '99999999999999999999']) {
    usage(t, [...BASE, `--queues=${bad}`], `--queues must be a whole number from 1 to 256, got '${bad}'`);
  }
  for (const bad of ['0', '1', '65536', 'x']) {
    usage(t, [...BASE, `--queue-size=${bad}`], `--queue-size must be a whole number from 2 to 32768, got '${bad}'`);
  }
  for (const bad of ['100', '3', '32767']) {
    usage(t, [...BASE, '--queue-size', bad], `--queue-size must be a power of two from 2 to 32768, got '${bad}'`);
  }
  for (const bad of ['256', '8192', '0512', 'x']) {
    usage(t, [...BASE, '--logical-block-size', bad], `--logical-block-size must be 512, 1024, 2048 or 4096, got '${bad}'`);
  }
  usage(t, [...BASE, '--log-level', 'verbose'], "--log-level must be fatal, error, warn, info, debug, trace or silent, got 'verbose'");
  usage(t, [...BASE, '--log-level', 'INFO'], "--log-level must be fatal, error, warn, info, debug, trace or silent, got 'INFO'");
});

t.test('serial', async (t) => {
  usage(t, [...BASE, '--serial', ''], '--serial must not be empty (leave it out for no serial)');
  usage(t, [...BASE, '--serial', '123456789012345678901'], '--serial is 21 bytes, at most 20 fit the virtio-blk ID field');
  usage(t, [...BASE, '--serial', 'a\tb'], "--serial must be printable ASCII, got 'a\\tb'");
  usage(t, [...BASE, '--serial', 'sé'], "--serial must be printable ASCII, got 'sé'");
});

t.test('--size', async (t) => {
  t.equal(serve(['--size', '1M']).size, 1048576);
  t.equal(serve(['--size', '512']).size, 512);
  t.equal(serve(['--size', '4k', '--logical-block-size', '4096']).size, 4096);
  usage(t, [...BASE, '--size', '0'], "--size: size must be greater than 0, got '0'");
  usage(t, [...BASE, '--size', '0G'], "--size: size must be greater than 0, got '0G'");
  usage(t, [...BASE, '--size', '1000'], '--size 1000 (1000 bytes) is not a multiple of the logical block size (512 bytes)');
  usage(t, [...BASE, '--size', '1K', '--logical-block-size', '4096'], '--size 1K (1024 bytes) is not a multiple of the logical block size (4096 bytes)');
  usage(t, [...BASE, '--size', '99999T'], "--size: size '99999T' is too large (at most 9007199254740991 bytes, 2^53 - 1)");
  usage(t, [...BASE, '--size', '1.5G'], "--size: invalid size '1.5G' (expected a whole number with an optional unit K, M, G or T, e.g. 512, 64M, 10G)");
  usage(t, [...BASE, '--size', '1G', '--readonly'], '--size cannot be used with --readonly (it creates or grows the file)');
});

t.test('parseSize / formatSize', async (t) => {
  t.equal(parseSize('1'), 1);
  t.equal(parseSize('1k'), 1024);
  t.equal(parseSize('1K'), 1024);
  t.equal(parseSize('3m'), 3 * 2 ** 20);
  t.equal(parseSize('2G'), 2 * 2 ** 30);
  t.equal(parseSize('1t'), 2 ** 40);
  t.equal(parseSize('007'), 7);
  t.equal(parseSize('8191T'), 8191 * 2 ** 40, 'largest whole-T size that fits');
  t.throws(() => parseSize('8192T'), { message: /too large/ });
  t.equal(parseSize('9007199254740991'), Number.MAX_SAFE_INTEGER);
  t.throws(() => parseSize('9007199254740992'), { message: /too large/ });
  t.throws(() => parseSize('99999T'), { message: /too large/ });
  t.throws(() => parseSize('0'), { message: "size must be greater than 0, got '0'" });
  for (const bad of ['', 'G', '1P', '1KB', '1GiB', '-1', '+1', ' 1', '1 ', '1 G', '0x10', '1e3', 'ten', '1.0']) {
    t.throws(() => parseSize(bad), { message: `invalid size '${bad}' (expected a whole number with an optional unit K, M, G or T, e.g. 512, 64M, 10G)` }, bad);
  }
  t.equal(formatSize(0), '0');
  t.equal(formatSize(1536), '1536');
  t.equal(formatSize(3072), '3K');
  t.equal(formatSize(10 * 2 ** 30), '10G');
  t.equal(formatSize(2 ** 40 + 2 ** 30), '1025G');
  t.equal(formatSize(5 * 2 ** 40), '5T');
  t.throws(() => formatSize(-1), RangeError);
  t.throws(() => formatSize(1.5), RangeError);
  for (const n of [1, 512, 4096, 1536, 2 ** 40, Number.MAX_SAFE_INTEGER]) t.equal(parseSize(formatSize(n)), n, `round trip ${n}`);
});

t.test('parseCpuList', async (t) => {
  t.strictSame(parseCpuList('4-7,9'), [4, 5, 6, 7, 9]);
  t.strictSame(parseCpuList('2,3'), [2, 3]);
  t.strictSame(parseCpuList('0-3,8'), [0, 1, 2, 3, 8]);
  t.strictSame(parseCpuList('3,1'), [3, 1], 'order is kept: it decides which queue gets which CPU');
  t.strictSame(parseCpuList('5-5'), [5]);
  t.strictSame(parseCpuList('0-63\n'), Array.from({ length: 64 }, (_, i) => i), 'sysfs trailing newline');
  t.throws(() => parseCpuList(''), { message: 'empty CPU list' });
  t.throws(() => parseCpuList('\n'), { message: 'empty CPU list' });
  t.throws(() => parseCpuList('1,,2'), { message: "empty entry in CPU list '1,,2'" });
  t.throws(() => parseCpuList('1,'), { message: "empty entry in CPU list '1,'" });
  t.throws(() => parseCpuList(',1'), { message: "empty entry in CPU list ',1'" });
  t.throws(() => parseCpuList('7-4'), { message: "range '7-4' in CPU list '7-4' is reversed (write 4-7)" });
  t.throws(() => parseCpuList('a'), { message: "'a' in CPU list 'a' is not a CPU number or a range like 4-7" });
  t.throws(() => parseCpuList('1-'), { message: "'1-' in CPU list '1-' is not a CPU number or a range like 4-7" });
  t.throws(() => parseCpuList('-1'), { message: "'-1' in CPU list '-1' is not a CPU number or a range like 4-7" });
  t.throws(() => parseCpuList('1, 2'), { message: "' 2' in CPU list '1, 2' is not a CPU number or a range like 4-7" });
  t.throws(() => parseCpuList('1-2-3'), { message: /not a CPU number or a range/ });
  t.throws(() => parseCpuList('1,1'), { message: "CPU 1 appears more than once in CPU list '1,1'" });
  t.throws(() => parseCpuList('0-3,2'), { message: "CPU 2 appears more than once in CPU list '0-3,2'" });
  t.throws(() => parseCpuList('0-99999999'), { message: "CPU number in '0-99999999' is too large (at most 65535)" });
  t.equal(formatCpuList([0, 1, 2, 3, 8]), '0-3,8');
  t.equal(formatCpuList([9]), '9');
  t.equal(formatCpuList([]), '');
  t.equal(formatCpuList([3, 1, 2]), '3,1-2');
});

t.test('cpuForQueue', async (t) => {
  const cpus = parseCpuList('4-5,9');
  t.strictSame([0, 1, 2, 3, 4, 5].map((q) => cpuForQueue(cpus, q)), [4, 5, 9, 4, 5, 9]);
  t.throws(() => cpuForQueue([], 0), RangeError);
});

t.test('--cpus against the online set', async (t) => {
  t.strictSame(serve(['--cpus', '0-3,7']).cpus, [0, 1, 2, 3, 7]);
  usage(t, [...BASE, '--cpus', '8'], '--cpus: CPU 8 is not online (online: 0-7)');
  usage(t, [...BASE, '--cpus', '6-9,12'], '--cpus: CPUs 8-9,12 are not online (online: 0-7)');
  usage(t, [...BASE, '--cpus', '4-2'], "--cpus: range '4-2' in CPU list '4-2' is reversed (write 2-4)");
  usage(t, [...BASE, '--cpus', ''], '--cpus: empty CPU list');
  usage(t, [...BASE, '--cpus', '1,1'], "--cpus: CPU 1 appears more than once in CPU list '1,1'");
  // Offlined CPU 2: the online set has a hole that a CPU count would miss.
  const holey = { onlineCpus: () => parseCpuList('0-1,3') };
  t.throws(() => parseServeArgs([...BASE, '--cpus', '2'], holey), { message: '--cpus: CPU 2 is not online (online: 0-1,3)' });
  t.strictSame(parseServeArgs([...BASE, '--cpus', '3,0'], holey).cpus, [3, 0]);
  let calls = 0;
  parseServeArgs(BASE, { onlineCpus: () => (calls++, []) });
  t.equal(calls, 0, 'online set is only read when --cpus is given');
  const broken = {
    onlineCpus: () => {
      throw new Error('ENOENT');
    },
  };
  const err = t.throws(() => parseServeArgs([...BASE, '--cpus', '0'], broken), {
    message: 'cannot check --cpus against the online CPUs: ENOENT',
  });
  t.notOk(err instanceof UsageError, 'a system problem, not a usage error (exit status 1)');
});

t.test('readOnlineCpus', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-args-'));
  const file = join(dir, 'online');
  writeFileSync(file, '0-3,6-7\n');
  t.strictSame(readOnlineCpus(file), [0, 1, 2, 3, 6, 7]);
  t.throws(() => readOnlineCpus(join(dir, 'missing')), { code: 'ENOENT' });
});

t.test('help texts', async (t) => {
  const help = serveHelp();
  for (const flag of Object.keys(SERVE_FLAGS)) t.match(help, `--${flag}`, `serve help documents --${flag}`);
  for (const line of help.split('\n')) t.ok(line.length <= 80, `fits 80 columns: ${line}`);
  t.match(help, '(default 256)');
  t.match(help, '(default 512)');
  t.match(help, '(default 1)');
  t.match(help, 'default info');
  t.match(help, 'modprobe vduse virtio_vdpa');
  t.match(help, 'CONFIG_VDPA_USER');
  t.match(help, 'Examples:');
  for (const io of ['auto', 'sync', 'uring', 'threads']) t.match(help, io, `serve help names VDUSE_BLK_IO=${io}`);
  t.match(help, 'VDUSE_BLK_IO');
  const top = topHelp();
  t.match(top, 'serve');
  t.match(top, '--version');
  t.match(top, 'modprobe vduse virtio_vdpa');
  for (const line of top.split('\n')) t.ok(line.length <= 80, `fits 80 columns: ${line}`);
});

t.test('parseCommandLine', async (t) => {
  t.strictSame(parseCommandLine(['--help']), { kind: 'help', text: topHelp() });
  t.strictSame(parseCommandLine(['-h']), { kind: 'help', text: topHelp() });
  t.strictSame(parseCommandLine(['help']), { kind: 'help', text: topHelp() });
  t.strictSame(parseCommandLine(['help', 'serve']), { kind: 'help', text: serveHelp() });
  t.strictSame(parseCommandLine(['serve', '--help']), { kind: 'help', text: serveHelp() });
  t.strictSame(parseCommandLine(['serve', '--name', 'x', '-h']), { kind: 'help', text: serveHelp() });
  t.match(parseCommandLine(['--version']), { kind: 'version', text: /^vduse-blk \d+\.\d+\.\d+\n$/ });
  t.match(parseCommandLine(['serve', ...BASE], ONLINE_0_7), { kind: 'serve', options: { name: 'd0' } });
  const top = (argv: string[], message: string) =>
    t.throws(() => parseCommandLine(argv), { name: 'UsageError', message, exitCode: 2, command: undefined }, argv.join(' '));
  top([], "missing command (try 'vduse-blk serve --help')");
  top(['frobnicate'], "unknown command 'frobnicate'");
  top(['help', 'frobnicate'], "unknown command 'frobnicate'");
  top(['help', 'serve', 'x'], "unexpected argument 'x'");
  top(['--foo'], "unknown option '--foo'");
  top(['--verison'], "unknown option '--verison' (did you mean '--version'?)");
  top(['--version', 'x'], "unexpected argument 'x'");
  t.throws(() => parseCommandLine(['serve', '--foo']), { message: "unknown option '--foo'", command: 'serve' });
});

t.test('formatUsageError', async (t) => {
  t.equal(formatUsageError(new UsageError("unknown option '--foo'", 'serve')), "vduse-blk serve: unknown option '--foo'\nRun 'vduse-blk serve --help' for usage.\n");
  t.equal(formatUsageError(new UsageError("unknown command 'x'")), "vduse-blk: unknown command 'x'\nRun 'vduse-blk --help' for usage.\n");
});
