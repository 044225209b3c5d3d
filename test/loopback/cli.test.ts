/**
 * The `vduse-blk` command's error paths, run as a child process
 * (`node dist/src/cli.js`): exit status 2 and a message naming the flag for
 * usage errors, status 1 for runtime failures, help on stdout with status 0,
 * and nothing left behind when it fails. Runs as any user and never creates
 * a device: the cases that would get that far need a host without VDUSE.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { openBackingFile } from '../../src/control/backing-file.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const HAS_VDUSE = existsSync('/dev/vduse/control');
const NO_VDUSE = HAS_VDUSE ? 'this host has /dev/vduse/control: the command would create a device' : false;

interface Result { status: number | null; stdout: string; stderr: string }

/** Runs the command with a timeout; the test runner's loader hooks are kept out of the child. */
function cli(...args: string[]): Result {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000, env });
  if (r.error !== undefined) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'vduse-blk-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const existing = join(dir, 'disk.img');
writeFileSync(existing, Buffer.alloc(1 << 20));

/** A usage error: status 2, the message on stderr, a pointer to the help, nothing on stdout. */
function usageError(t: Test, args: string[], message: RegExp): void {
  const r = cli(...args);
  t.equal(r.status, 2, `${args.join(' ')}: exit status 2`);
  t.match(r.stderr, message, `${args.join(' ')}: says what is wrong`);
  t.match(r.stderr, /Run 'vduse-blk( serve)? --help' for usage/, 'points to the help');
  t.equal(r.stdout, '', 'nothing on stdout');
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

t.test('unknown flag: exit 2, names the flag', async (t) => {
  usageError(t, ['serve', '--name', 'x', '--file', existing, '--bogus'], /unknown option '--bogus'/);
  usageError(t, ['serve', '--name', 'x', '--file', existing, '--read-only'],
    /unknown option '--read-only' \(did you mean '--readonly'\?\)/);
  usageError(t, ['serve', '--name', 'x', '--file', existing, '-z'], /unknown option '-z'/);
  usageError(t, ['frobnicate'], /unknown command 'frobnicate'/);
  usageError(t, [], /missing command/);
});

t.test('missing --name (and --file): exit 2', async (t) => {
  usageError(t, ['serve', '--file', existing], /missing required option --name\b/);
  usageError(t, ['serve', '--name', 'x'], /missing required option --file\b/);
  usageError(t, ['serve'], /missing required options --name and --file/);
  usageError(t, ['serve', '--name', '--file', existing], /option '--name' needs a value, got '--file'/);
});

t.test('bad --cpus lists: exit 2, names --cpus', async (t) => {
  const base = ['serve', '--name', 'x', '--file', existing];
  usageError(t, [...base, '--cpus', '3-1'], /--cpus: range '3-1' in CPU list '3-1' is reversed/);
  usageError(t, [...base, '--cpus', 'abc'], /--cpus: 'abc' in CPU list 'abc' is not a CPU number/);
  usageError(t, [...base, '--cpus', '0,,1'], /--cpus: empty entry/);
  usageError(t, [...base, '--cpus', '0,0'], /--cpus: CPU 0 appears more than once/);
  usageError(t, [...base, '--cpus', '4000'], /--cpus: CPU 4000 is not online/);
});

t.test('--queue-size 100 (not a power of two) and other bad numbers: exit 2', async (t) => {
  const base = ['serve', '--name', 'x', '--file', existing];
  usageError(t, [...base, '--queue-size', '100'], /--queue-size must be a power of two from 2 to 32768, got '100'/);
  usageError(t, [...base, '--queue-size', '65536'], /--queue-size must be a whole number from 2 to 32768/);
  usageError(t, [...base, '--queues', '0'], /--queues must be a whole number from 1 to 256, got '0'/);
  usageError(t, [...base, '--logical-block-size', '600'], /--logical-block-size must be 512, 1024, 2048 or 4096/);
  usageError(t, [...base, '--size', '1000'], /--size 1000 \(1000 bytes\) is not a multiple of the logical block size/);
  usageError(t, [...base, '--size', '1M', '--readonly'], /--size cannot be used with --readonly/);
  usageError(t, [...base, '--serial', 'x'.repeat(21)], /--serial is 21 bytes, at most 20/);
  usageError(t, [...base, '--log-level', 'loud'], /--log-level must be fatal, error, warn, info, debug, trace or silent/);
});

t.test('serve --help lists every flag of the contract and exits 0', async (t) => {
  const flags = ['--name', '--file', '--size', '--queues', '--queue-size', '--logical-block-size', '--serial',
    '--readonly', '--writethrough', '--no-discard', '--cpus', '--no-attach', '--log-level'];
  for (const args of [['serve', '--help'], ['serve', '-h'], ['help', 'serve'], ['serve', '--bogus', '--help']]) {
    const r = cli(...args);
    t.equal(r.status, 0, `${args.join(' ')}: exit 0`);
    t.equal(r.stderr, '', `${args.join(' ')}: nothing on stderr`);
    t.match(r.stdout, /^Usage: vduse-blk serve --name NAME --file PATH/, 'the serve usage line');
    for (const flag of flags) {
      if (!new RegExp(`^\\s+${flag}\\b`, 'm').test(r.stdout)) t.fail(`${args.join(' ')}: ${flag} is not described`);
    }
  }
  const top = cli('--help');
  t.equal(top.status, 0, '--help: exit 0');
  t.match(top.stdout, /serve\s+create a VDUSE block device/, 'the top help names the serve command');
});

t.test('without VDUSE, serve with --size fails naming vduse and CONFIG_VDPA_USER, creating nothing', { skip: NO_VDUSE },
  async (t) => {
    const file = join(dir, 'new.img');
    const r = cli('serve', '--name', 'x', '--file', file, '--size', '1M');
    t.equal(r.status, 1, 'exit 1 (a runtime failure, not a usage error)');
    t.match(r.stderr, /vduse/, 'names vduse');
    t.match(r.stderr, /CONFIG_VDPA_USER/, 'names CONFIG_VDPA_USER');
    t.match(r.stderr, /modprobe vduse/, 'says how to load it');
    t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
    t.notOk(existsSync(file), 'the file was not created');
  });

t.test('a missing file without --size: exit 1, nothing created', { skip: NO_VDUSE }, async (t) => {
  const file = join(dir, 'missing.img');
  const r = cli('serve', '--name', 'x', '--file', file);
  t.equal(r.status, 1, 'exit 1');
  t.match(r.stderr, /^vduse-blk: .*does not exist/, 'says something does not exist');
  t.notOk(existsSync(file), 'the path still does not exist');
  t.match(r.stderr, `${file} does not exist (give --size to create it)`, 'the message is about the file');
});

t.test('an empty file without --size: exit 1, the file untouched', { skip: NO_VDUSE }, async (t) => {
  const file = join(dir, 'empty.img');
  writeFileSync(file, '');
  const r = cli('serve', '--name', 'x', '--file', file);
  t.equal(r.status, 1, 'exit 1');
  t.equal(statSync(file).size, 0, 'still empty');
  t.match(r.stderr, `${file} is too small (0 bytes)`, 'the message says the file is too small');
});

// What the command reports once VDUSE is there: the same checks, called directly.
t.test('backing-file checks: missing and too-small files, nothing created', async (t) => {
  const opts = { readOnly: false, writethrough: false, logicalBlockSize: 512 };
  const missing = join(dir, 'missing2.img');
  t.throws(() => openBackingFile({ ...opts, path: missing }), { message: `${missing} does not exist (give --size to create it)` });
  t.notOk(existsSync(missing), 'the path still does not exist');
  const nested = join(dir, 'no-such-dir', 'x.img');
  t.throws(() => openBackingFile({ ...opts, path: nested, size: 1 << 20 }), { message: /its directory does not exist/ });
  const empty = join(dir, 'empty2.img');
  writeFileSync(empty, Buffer.alloc(100));
  t.throws(() => openBackingFile({ ...opts, path: empty }), { message: /is too small \(100 bytes\): a device needs at least one 512-byte block/ });
  t.equal(statSync(empty).size, 100, 'the file was not grown');
  t.throws(() => openBackingFile({ ...opts, path: dir }), { message: /is a directory|is not a regular file/ });
});
