#!/usr/bin/env node
// Where a server's CPU goes per request in the TCG guest: `npm run bench:vm:profile`
// (builds first), or
//
//   node bench/vm-profile.mjs [--job read-128k-qd8] [--server ours|qsd] [--seconds 8]
//                             [--queues 1] [--top 60] [--env 'K=V ...'] [--image-mb 512]
//                             [--cli PATH]   (our server from another build's dist/src/cli.js)
//                             [--node-flags='--trace-gc ...']   (more node/V8 flags for our server; use =)
//
// Runs test/vm/setup.sh, installs Debian's linux-perf when `perf` is missing,
// boots the guest with test/vm/bench/guest-profile.sh (perf record of the
// whole guest while fio runs one job of bench:vm on one server) and prints its
// report: CPU µs per I/O by server thread, by command, and the busiest server
// thread's symbols (JS functions included). Exit status: 0 when the report
// came, 1 otherwise, 2 on bad arguments. Plain ESM JavaScript: no build needed.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { VM_DIR, bootGuest, runSetup } from '../test/vm/boot.mjs';

const JOBS = ['randread-4k-qd1', 'randread-4k-qd32', 'randwrite-4k-qd32', 'read-128k-qd8'];

function usage(message) {
  console.error(`bench:vm:profile: ${message}`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({ options: {
    job: { type: 'string', default: 'read-128k-qd8' },
    server: { type: 'string', default: 'ours' },
    seconds: { type: 'string', default: '8' },
    queues: { type: 'string', default: '1' },
    top: { type: 'string', default: '60' },
    env: { type: 'string', default: '' },
    'image-mb': { type: 'string', default: '512' },
    cli: { type: 'string', default: '' },
    'node-flags': { type: 'string', default: '' },
  } }));
} catch (error) {
  usage(error.message);
}
if (!JOBS.includes(values.job) && !/^randread-4k-qd32-x\d+$/.test(values.job)) usage(`unknown --job ${values.job} (one of ${JOBS.join(', ')}, randread-4k-qd32-xN)`);
if (!['ours', 'qsd'].includes(values.server)) usage(`--server must be ours or qsd, not ${values.server}`);
for (const key of ['seconds', 'queues', 'top', 'image-mb']) {
  if (!/^[1-9]\d*$/.test(values[key])) usage(`--${key} must be a positive integer, not ${values[key]}`);
}

const vm = runSetup({ quiet: true });
if (spawnSync('sh', ['-c', 'command -v perf'], { stdio: 'ignore' }).status !== 0) {
  console.error('[bench:vm:profile] installing linux-perf (perf, for the guest: it runs the host\'s binaries)');
  const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'linux-perf'], {
    stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.status !== 0) { console.error('[bench:vm:profile] apt-get install linux-perf failed'); process.exit(1); }
}

let inReport = false;
let complete = false;
const r = await bootGuest({
  vm,
  script: path.join(VM_DIR, 'bench', 'guest-profile.sh'),
  timeoutSec: 240 + Number(values['image-mb']) / 8 + 2 * Number(values.seconds),
  quiet: true,
  env: {
    PROFILE_JOB: values.job, PROFILE_SERVER: values.server, PROFILE_SECONDS: values.seconds,
    PROFILE_QUEUES: values.queues, PROFILE_TOP: values.top, PROFILE_ENV: values.env,
    PROFILE_IMAGE_MB: values['image-mb'], PROFILE_CLI: values.cli ? path.resolve(values.cli) : '',
    PROFILE_NODE_FLAGS: values['node-flags'],
  },
  onLine(line) {
    if (line === 'VDUSE_PROFILE_BEGIN') inReport = true;
    else if (line === 'VDUSE_PROFILE_END') { inReport = false; complete = true; }
    else if (inReport) console.log(line);
    else if (/^FAIL: /.test(line)) console.error(line);
  },
});
if (r.status !== 0 || !complete) {
  console.error(`[bench:vm:profile] no complete report (guest status ${r.status}${r.timedOut ? ', timed out' : ''}); console: ${r.logFile}`);
  process.exit(1);
}
