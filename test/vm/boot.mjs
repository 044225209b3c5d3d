#!/usr/bin/env node
// Boot the real-kernel test guest (QEMU, TCG) and run one script in it.
//
//   node test/vm/boot.mjs [options] SCRIPT [ARGS...]
//     --timeout SECONDS   wall-clock limit for the whole guest (default
//                         $VDUSE_VM_TIMEOUT or 900)
//     --log FILE          console log (default $VDUSE_VM_LOG_DIR/console.log,
//                         VDUSE_VM_LOG_DIR defaulting to <cache>/logs)
//     --env KEY=VALUE     extra environment for the guest script (repeatable)
//     --quiet             do not echo the console to stdout
//     --no-setup          do not run setup.sh first (use the cached build)
//
// SCRIPT is a path on the host (the guest sees the host's root read-only at
// the same paths); it runs with bash, as root, cwd = repo root. The exit
// status of boot.mjs is the script's exit status, read from the marker line
// `VDUSE_VM_EXIT=<n>` on the guest console; 124 on timeout, 125 if the guest
// ended without a marker.
//
// Plain ESM JavaScript on purpose: it runs without a build.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const VM_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(VM_DIR, '..', '..');
export const MARKER_RE = /^VDUSE_VM_EXIT=(\d+)\s*$/;

export function cacheDir() {
  return process.env.VDUSE_VM_CACHE || path.join(os.homedir(), '.cache', 'vduse-blk-vm');
}

/** Run setup.sh (idempotent) and return the parsed current.env. */
export function runSetup({ quiet = false } = {}) {
  const r = spawnSync('bash', [path.join(VM_DIR, 'setup.sh')], {
    stdio: ['ignore', 'pipe', quiet ? 'pipe' : 'inherit'],
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.status !== 0) {
    if (quiet && r.stderr) process.stderr.write(r.stderr);
    throw new Error(`test/vm/setup.sh failed with status ${r.status}`);
  }
  const envFile = r.stdout.trim().split('\n').pop();
  return readVmEnv(envFile);
}

export function readVmEnv(file = path.join(cacheDir(), 'current.env')) {
  const env = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) env[m[1]] = m[2];
  }
  for (const k of ['VM_KERNEL', 'VM_INITRD', 'VM_KVER']) {
    if (!env[k]) throw new Error(`${file}: ${k} missing; run test/vm/setup.sh`);
  }
  return env;
}

const shq = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

/** A kernel command-line word must not contain blanks or quotes. */
function cmdlineWord(key, value) {
  if (/[\s"']/.test(value)) throw new Error(`${key}=${value}: kernel command-line values cannot contain blanks or quotes`);
  return `${key}=${value}`;
}

/**
 * Boot the guest and run `script` in it.
 * Resolves to { status, marker, timedOut, qemuStatus, logFile, seconds }.
 * onLine(line) is called for every console line (CR stripped).
 */
export async function bootGuest({
  script,
  args = [],
  env = {},
  timeoutSec = Number(process.env.VDUSE_VM_TIMEOUT || 900),
  logFile,
  quiet = false,
  vm,
  onLine = () => {},
}) {
  vm = vm || readVmEnv();
  const scriptAbs = path.resolve(script);
  if (!fs.existsSync(scriptAbs)) throw new Error(`no such script: ${scriptAbs}`);
  const cache = vm.VM_CACHE || cacheDir();
  const runDir = fs.mkdtempSync(path.join(cache, 'run-'));
  logFile = logFile || path.join(process.env.VDUSE_VM_LOG_DIR || path.join(cache, 'logs'), 'console.log');
  fs.mkdirSync(path.dirname(logFile), { recursive: true });

  // Everything beyond the few command-line words goes through a shell
  // fragment on the (read-only, shared) host filesystem.
  const guestEnv = {
    VDUSE_VM_REPO: REPO_ROOT,
    VDUSE_VM_HARNESS: VM_DIR,
    VDUSE_VM_NODE: process.execPath,
    VDUSE_VM_MODDIR: vm.VM_MODDIR || '',
    VDUSE_VM_KROOT: vm.VM_MODBASE || vm.VM_KROOT || '',
    VDUSE_VM_ARGS: args.map(shq).join(' '),
    ...env,
  };
  const envFile = path.join(runDir, 'env');
  fs.writeFileSync(
    envFile,
    Object.entries(guestEnv).map(([k, v]) => `${k}=${shq(v)}`).join('\n') + '\n',
  );

  const append = [
    'console=ttyS0,115200', 'panic=-1', 'loglevel=3', 'mitigations=off',
    'random.trust_cpu=on', 'nokaslr',
    cmdlineWord('VDUSE_VM_SCRIPT', scriptAbs),
    cmdlineWord('VDUSE_VM_REPO', REPO_ROOT),
    cmdlineWord('VDUSE_VM_ENVFILE', envFile),
  ];
  // cache=loose: the share is read-only and the host tree is not expected to
  // change during a run; it makes `node` start ~3x faster than cache=none.
  append.push(cmdlineWord('VDUSE_VM_9P_CACHE', process.env.VDUSE_VM_9P_CACHE || 'loose'));
  if (process.env.VDUSE_VM_APPEND) append.push(process.env.VDUSE_VM_APPEND);

  const qemu = process.env.VDUSE_VM_QEMU || 'qemu-system-x86_64';
  const qargs = [
    '-machine', 'q35', '-cpu', 'max',
    '-smp', String(process.env.VDUSE_VM_SMP || 2),
    '-m', String(process.env.VDUSE_VM_MEM || 4096),
    '-accel', 'tcg,thread=multi',
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-serial', 'stdio', '-monitor', 'none',
    '-kernel', vm.VM_KERNEL, '-initrd', vm.VM_INITRD,
    '-append', append.join(' '),
    '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
  ];

  const log = fs.createWriteStream(logFile);
  log.write(`# ${qemu} ${qargs.map((a) => (/\s/.test(a) ? shq(a) : a)).join(' ')}\n`);
  const started = Date.now();
  const child = spawn(qemu, qargs, { stdio: ['ignore', 'pipe', 'pipe'] });

  let marker = null;
  let timedOut = false;
  let pending = '';
  const handle = (chunk) => {
    const text = chunk.toString('utf8').replace(/\r/g, '');
    log.write(text);
    if (!quiet) process.stdout.write(text);
    pending += text;
    const lines = pending.split('\n');
    pending = lines.pop();
    for (const line of lines) {
      const m = MARKER_RE.exec(line);
      if (m) marker = Number(m[1]);
      onLine(line);
    }
  };
  child.stdout.on('data', handle);
  child.stderr.on('data', (d) => {
    const text = `[qemu] ${d.toString('utf8')}`;
    log.write(text);
    process.stderr.write(text);
  });

  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    const msg = `\n[boot.mjs] guest wall-clock timeout after ${timeoutSec}s; killing QEMU\n`;
    log.write(msg);
    process.stderr.write(msg);
    kill();
  }, timeoutSec * 1000);
  const onSignal = (sig) => {
    kill();
    process.exitCode = 130;
    process.stderr.write(`\n[boot.mjs] ${sig}: stopping the guest\n`);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const qemuStatus = await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? signal));
  });
  clearTimeout(timer);
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
  if (pending) handle(Buffer.from('\n'));
  const seconds = (Date.now() - started) / 1000;
  await new Promise((r) => log.end(`\n# qemu exited (${qemuStatus}) after ${seconds.toFixed(1)}s, marker=${marker}\n`, r));
  fs.rmSync(runDir, { recursive: true, force: true });

  let status;
  if (timedOut) status = 124;
  else if (marker === null) status = 125;
  else status = marker;
  return { status, marker, timedOut, qemuStatus, logFile, seconds };
}

async function main(argv) {
  const opts = { env: {}, quiet: false, setup: true };
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (rest.length === 0 && a === '--timeout') opts.timeoutSec = Number(argv[++i]);
    else if (rest.length === 0 && a === '--log') opts.logFile = path.resolve(argv[++i]);
    else if (rest.length === 0 && a === '--env') {
      const [k, ...v] = argv[++i].split('=');
      opts.env[k] = v.join('=');
    } else if (rest.length === 0 && a === '--quiet') opts.quiet = true;
    else if (rest.length === 0 && a === '--no-setup') opts.setup = false;
    else rest.push(a);
  }
  if (rest.length === 0) {
    process.stderr.write('usage: node test/vm/boot.mjs [--timeout S] [--log FILE] [--env K=V] [--quiet] [--no-setup] SCRIPT [ARGS...]\n');
    return 2;
  }
  const vm = opts.setup ? runSetup() : readVmEnv();
  const r = await bootGuest({ ...opts, vm, script: rest[0], args: rest.slice(1) });
  process.stderr.write(
    `[boot.mjs] guest ${r.timedOut ? 'TIMED OUT' : r.marker === null ? 'ended WITHOUT a marker' : `exit status ${r.marker}`}` +
      ` after ${r.seconds.toFixed(1)}s (console log: ${r.logFile})\n`,
  );
  return r.status;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`[boot.mjs] ${err.stack || err}\n`);
      process.exit(125);
    },
  );
}
