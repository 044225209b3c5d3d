#!/usr/bin/env node
// Real-kernel benchmark: qemu-storage-daemon's vduse-blk export vs our server,
// in the TCG test guest (test/vm). `npm run bench:vm` (builds first), or:
//
//   node bench/vm.mjs [--runtime S] [--ramp S] [--image-mb N] [--queues 1,2]
//                     [--jobs FILTER,...] [--no-cpus-variant] [--poll-us N] [--out FILE]
//                     [--rounds N] [--warmup S] [--timeout S] [--wait S] [--verbose]
//                     [--variant-env 'K=V ...'] [--variant-cli PATH]
//
// Runs test/vm/setup.sh, boots ONE guest that runs test/vm/bench/guest-bench.sh
// (every server on the same pre-filled image in guest tmpfs, fio jobs run on
// each server back to back in alternating order), reads the fio JSON from the
// console (the guest cannot write to the host: its view of / is read-only),
// prints a table and writes bench-results/vm.json (the raw fio JSON included).
//
// Exit status: 0 when the run worked (every server started, every fio run gave
// JSON, the guest ended normally), whatever the numbers; 1 otherwise; 2 on bad
// arguments. Absolute numbers under TCG mean little; the ratios between the
// servers, measured in the same guest minutes apart, are the point.
//
// Plain ESM JavaScript on purpose: it needs no build (the product does: dist/).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT, VM_DIR, bootGuest, cacheDir, runSetup } from '../test/vm/boot.mjs';

const GUEST_SCRIPT = path.join(VM_DIR, 'bench', 'guest-bench.sh');
const LINE_RE = /^(VDUSE_BENCH_(?:INFO|RESULT|ERROR|DONE)) (.*)$/;
const QSD = 'qsd';

/** Short name of a server in the order column. */
function orderLabel(server) {
  if (server === QSD) return 'qsd';
  if (server === 'vduse-blk') return 'ours';
  if (server.startsWith('vduse-blk env ') || server.startsWith('vduse-blk cli ')) return 'ours-variant';
  return server.includes('--poll-us') ? 'ours-poll' : 'ours-pin';
}

function usage(msg) {
  if (msg) process.stderr.write(`bench/vm.mjs: ${msg}\n`);
  process.stderr.write(
    'usage: node bench/vm.mjs [--runtime S] [--ramp S] [--image-mb N] [--queues 1,2] [--jobs F,...]\n' +
      '                         [--no-cpus-variant] [--poll-us N] [--rounds N] [--warmup S] [--out FILE] [--timeout S] [--wait S] [--verbose]\n' +
      "                         [--variant-env 'K=V ...'] [--variant-cli PATH/dist/src/cli.js]\n",
  );
  return 2;
}

function parseArgs(argv) {
  const o = {
    runtime: 10, ramp: 2, imageMb: 1024, queues: [1, 2], jobs: '', cpusVariant: true, pollUs: 500,
    out: path.join(REPO_ROOT, 'bench-results', 'vm.json'), timeout: null, wait: 1200, verbose: false, warmup: 3, rounds: 1,
  };
  const num = (name, v, min) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} wants an integer >= ${min}, got '${v}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--runtime') o.runtime = num(a, val(), 1);
    else if (a === '--ramp') o.ramp = num(a, val(), 0);
    else if (a === '--image-mb') o.imageMb = num(a, val(), 64);
    else if (a === '--queues') o.queues = val().split(',').filter(Boolean).map((q) => num(a, q, 1));
    else if (a === '--jobs') o.jobs = val().split(',').filter(Boolean).join(' ');
    else if (a === '--no-cpus-variant') o.cpusVariant = false;
    else if (a === '--poll-us') o.pollUs = num(a, val(), 0);
    else if (a === '--warmup') o.warmup = num(a, val(), 0);
    else if (a === '--rounds') o.rounds = num(a, val(), 1);
    else if (a === '--out') o.out = path.resolve(val());
    else if (a === '--timeout') o.timeout = num(a, val(), 60);
    else if (a === '--wait') o.wait = num(a, val(), 0);
    else if (a === '--verbose') o.verbose = true;
    else if (a === '--variant-env') o.variantEnv = val();
    else if (a === '--variant-cli') o.variantCli = path.resolve(val());
    else if (a === '-h' || a === '--help') return null;
    else throw new Error(`unknown argument '${a}'`);
  }
  if (o.queues.length === 0) throw new Error('--queues needs at least one queue count');
  if (o.variantCli !== undefined) {
    // The guest sees the host's files read-only but has its own /tmp: a build there is not the one it would run.
    if (o.variantCli === '/tmp' || o.variantCli.startsWith('/tmp/')) {
      throw new Error(`--variant-cli ${o.variantCli}: the guest has its own /tmp; put the other build elsewhere`);
    }
    if (!fs.existsSync(o.variantCli)) throw new Error(`--variant-cli ${o.variantCli}: no such file`);
  }
  return o;
}

/** QEMU processes of other test-guest runs on this host (they share the 2 cores), not our own child. */
function otherGuests() {
  const found = [];
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let cmd;
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!/qemu-system/.test(cmd[0] || '') || !cmd.some((a) => a.includes('mount_tag=hostroot'))) continue;
    let ppid = -1;
    try {
      ppid = Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]);
    } catch {
      continue;
    }
    if (ppid !== process.pid) found.push(Number(pid));
  }
  return found;
}

/** Busy and total jiffies of the whole host (USER_HZ = 100 on Linux). */
function hostJiffies() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - f[4], total };
}
function procJiffies(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}
function ourQemuPid() {
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (/\(qemu-system[^)]*\)/.test(f) && Number(f.replace(/^.*\) /s, '').split(' ')[1]) === process.pid) return Number(pid);
    } catch {
      // gone
    }
  }
  return null;
}
/** A snapshot to tell how much host CPU went to anything but our guest and us. */
function cpuSnapshot(qemuPid) {
  const { busy } = hostJiffies();
  const u = process.cpuUsage();
  return { t: Date.now(), busy, qemu: qemuPid ? procJiffies(qemuPid) : 0, self: (u.user + u.system) / 10_000 };
}
/** CPUs' worth of host time used by other processes between two snapshots. */
function otherCpus(a, b) {
  const sec = (b.t - a.t) / 1000;
  if (sec <= 0) return 0;
  return Math.max(0, (b.busy - a.busy - (b.qemu - a.qemu) - (b.self - a.self)) / 100 / sec);
}
const BUSY_HOST = 0.3; // other processes' CPUs above which a run counts as disturbed

async function waitForOtherGuests(maxSec) {
  const t0 = Date.now();
  let said = false;
  for (;;) {
    const pids = otherGuests();
    if (pids.length === 0) return { waitedSec: (Date.now() - t0) / 1000, concurrent: [] };
    const waited = (Date.now() - t0) / 1000;
    if (waited >= maxSec) {
      console.error(`[bench:vm] WARNING: still another test guest running (pid ${pids.join(', ')}) after ${maxSec}s; going on (numbers share the CPUs)`);
      return { waitedSec: waited, concurrent: pids };
    }
    if (!said) console.error(`[bench:vm] another test guest is running (QEMU pid ${pids.join(', ')}); waiting up to ${maxSec}s for it to end`);
    said = true;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** The metrics of one fio run (one job entry with group_reporting). */
function metricsOf(fio) {
  const job = fio.jobs && fio.jobs[0];
  if (!job) throw new Error('no jobs[0] in the fio JSON');
  const dir = job.write && job.write.io_bytes > job.read.io_bytes ? 'write' : 'read';
  const d = job[dir];
  const pct = (d.lat_ns && d.lat_ns.percentile) || (d.clat_ns && d.clat_ns.percentile) || {};
  return {
    dir,
    iops: d.iops,
    bw_kib_s: d.bw,
    lat_mean_us: d.lat_ns.mean / 1000,
    lat_p50_us: pct['50.000000'] / 1000,
    lat_p99_us: pct['99.000000'] / 1000,
    lat_p999_us: pct['99.900000'] / 1000,
    errors: job.error,
    fio_usr_cpu: job.usr_cpu,
    fio_sys_cpu: job.sys_cpu,
  };
}

const fmtInt = (n) => (n === undefined || n === null || Number.isNaN(n) ? '-' : Math.round(n).toLocaleString('en-US'));
const fmtUs = (n) => (n === undefined || n === null || Number.isNaN(n) ? '-' : n >= 100 ? Math.round(n).toString() : n.toFixed(1));
const fmtLat = (m) => (m ? `${fmtUs(m.lat_mean_us)}/${fmtUs(m.lat_p99_us)}` : '-');
const fmtPct = (m) => (m ? `${Math.round(m.server_cpu_pct)}%` : '-');
/** `key` of qsd's and our metrics as "qsd/ours", or '-' when either lacks it. */
const fmtPair = (a, b, key, fmt) => (a && b && a[key] >= 0 && b[key] >= 0 ? `${fmt(a[key])}/${fmt(b[key])}` : '-');
const fmtPerIo = (m) => (m && m.server_user_us_per_io >= 0 ? `${Math.round(m.server_user_us_per_io)}+${Math.round(m.server_sys_us_per_io)}` : '-');

function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => (i < 2 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

async function main(argv) {
  let o;
  try {
    o = parseArgs(argv);
  } catch (err) {
    return usage(err.message);
  }
  if (!o) return usage();
  const t0 = Date.now();
  const loadBefore = os.loadavg();

  if (!fs.existsSync(path.join(REPO_ROOT, 'dist', 'src', 'cli.js'))) {
    console.error('[bench:vm] dist/src/cli.js missing: run `npm run build` first (npm run bench:vm does)');
    return 1;
  }
  console.error('[bench:vm] setup (test/vm/setup.sh)');
  const vm = runSetup();
  const waited = await waitForOtherGuests(o.wait);

  // qsd, ours, the polling and pinned variants, and an A/B server when asked for one.
  const variant = o.variantEnv || o.variantCli ? 1 : 0;
  const maxServers = (q) => 2 + (q > 1 && o.cpusVariant ? 1 : 0) + (o.pollUs > 0 ? 1 : 0) + variant;
  const jobsPer = (q) => (q > 1 ? 5 : 4);
  const expectedRuns = o.jobs ? null : o.rounds * o.queues.reduce((a, q) => a + maxServers(q) * jobsPer(q), 0);
  const runsForTimeout = o.rounds * o.queues.reduce((a, q) => a + maxServers(q) * jobsPer(q), 0);
  const timeoutSec = o.timeout ?? Math.min(2400, 240 + o.imageMb / 8 + runsForTimeout * (o.runtime + o.ramp + 25) + o.queues.length * (150 + 3 * (2 * o.warmup + 20)));

  // Another test guest started while ours runs (nothing makes run.mjs wait for
  // us) shares the CPUs: note which fio runs saw one.
  let runContended = false;
  let runSnap = null;
  let qemuPid = null;
  const contention = [];
  const sampler = setInterval(() => {
    const pids = otherGuests();
    if (pids.length === 0) return;
    runContended = true;
    const last = contention.at(-1);
    const now = Date.now();
    if (last && now - last.until < 10_000) { last.until = now; for (const p of pids) if (!last.pids.includes(p)) last.pids.push(p); }
    else contention.push({ from: now, until: now, pids });
  }, 2000);

  const info = {};
  const runs = [];
  const errors = [];
  let done = null;
  const logFile = path.join(process.env.VDUSE_VM_LOG_DIR || path.join(cacheDir(), 'logs'), 'bench-console.log');
  console.error(`[bench:vm] booting the guest: queues ${o.queues.join(',')}, ${o.runtime}s runs after ${o.ramp}s ramp, ${o.imageMb} MiB image (timeout ${Math.round(timeoutSec)}s)`);
  const tBoot = Date.now();
  const r = await bootGuest({
    vm,
    script: GUEST_SCRIPT,
    timeoutSec: Math.round(timeoutSec),
    quiet: true,
    logFile,
    env: {
      BENCH_QUEUES: o.queues.join(' '),
      BENCH_RUNTIME: String(o.runtime),
      BENCH_RAMP: String(o.ramp),
      BENCH_IMAGE_MB: String(o.imageMb),
      BENCH_CPUS_VARIANT: o.cpusVariant ? '1' : '0',
      BENCH_POLL_US: String(o.pollUs),
      BENCH_JOBS: o.jobs,
      BENCH_WARMUP: String(o.warmup),
      BENCH_ROUNDS: String(o.rounds),
      BENCH_VARIANT_ENV: o.variantEnv ?? '',
      BENCH_VARIANT_CLI: o.variantCli ?? '',
    },
    onLine(line) {
      const m = LINE_RE.exec(line);
      if (!m && /\] run \d+: /.test(line)) {
        runContended = otherGuests().length > 0;
        qemuPid = qemuPid || ourQemuPid();
        runSnap = cpuSnapshot(qemuPid);
      }
      if (!m) {
        if (o.verbose || !/^\s*$/.test(line)) process.stdout.write(`${line}\n`);
        return;
      }
      let obj;
      try {
        obj = JSON.parse(m[2]);
      } catch (err) {
        errors.push({ error: `unparsable ${m[1]} line from the guest (${err.message})`, head: m[2].slice(0, 200) });
        console.error(`[bench:vm] ${errors.at(-1).error}`);
        return;
      }
      if (m[1] === 'VDUSE_BENCH_INFO') Object.assign(info, obj);
      else if (m[1] === 'VDUSE_BENCH_ERROR') errors.push(obj);
      else if (m[1] === 'VDUSE_BENCH_DONE') done = obj;
      else {
        try {
          const other = runSnap ? otherCpus(runSnap, cpuSnapshot(qemuPid)) : null;
          runs.push({
            meta: { ...obj.meta, other_guest_running: runContended, host_other_cpus: other },
            metrics: metricsOf(obj.fio),
            fio: obj.fio,
          });
        } catch (err) {
          errors.push({ error: `fio JSON of run ${obj.meta && obj.meta.seq}: ${err.message}`, meta: obj.meta });
        }
      }
    },
  });
  clearInterval(sampler);
  const guestSec = (Date.now() - tBoot) / 1000;
  for (const run of runs) {
    run.metrics.server_cpu_s = run.meta.server_cpu_s;
    run.metrics.server_cpu_pct = (100 * run.meta.server_cpu_s) / run.meta.wall_s;
    Object.assign(run.metrics, cpuPerIo(run), guestIdle(run), sleepsPerIo(run));
  }

  // ---- table: one row per (queues, job, variant of ours), against qsd of the same phase
  // With several rounds: the medians over the rounds in which neither server
  // of the pair was disturbed (all rounds when every one was).
  const disturbed = (x) => Boolean(x.meta.other_guest_running || x.meta.host_other_cpus > BUSY_HOST);
  const roundOf = (x) => x.meta.round ?? 1;
  const rows = [];
  const seen = new Set();
  for (const run of [...runs].sort((a, b) => a.meta.seq - b.meta.seq)) {
    const { queues, job } = run.meta;
    const id = `${queues}|${job}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const same = runs.filter((x) => x.meta.queues === queues && x.meta.job === job).sort((a, b) => a.meta.seq - b.meta.seq);
    const qsdRuns = same.filter((x) => x.meta.server === QSD);
    const variants = [...new Set(same.filter((x) => x.meta.server !== QSD).map((x) => x.meta.server))];
    const rounds = [...new Set(same.map(roundOf))].sort((a, b) => a - b);
    for (const variant of variants.length ? variants : [null]) {
      const pairs = rounds.map((r) => ({
        round: r,
        qsd: qsdRuns.find((x) => roundOf(x) === r) || null,
        ours: same.find((x) => x.meta.server === variant && roundOf(x) === r) || null,
      }));
      const clean = pairs.filter((p) => p.qsd && p.ours && !disturbed(p.qsd) && !disturbed(p.ours));
      const use = clean.length ? clean : pairs;
      const qsd = aggregate(use.map((p) => p.qsd).filter(Boolean));
      const ours = aggregate(use.map((p) => p.ours).filter(Boolean));
      rows.push({
        job,
        queues,
        variant,
        order: same.filter((x) => roundOf(x) === rounds[0]).map((x) => x.meta.server),
        qsd,
        ours,
        ratio: qsd && ours ? ours.iops / qsd.iops : null,
        ratio_per_round: pairs.map((p) => (p.qsd && p.ours ? p.ours.metrics.iops / p.qsd.metrics.iops : null)),
        rounds_used: use.map((p) => p.round),
        rounds_total: pairs.length,
        contended: use.some((p) => (p.qsd && disturbed(p.qsd)) || (p.ours && disturbed(p.ours))),
      });
    }
  }
  rows.sort((a, b) => a.queues - b.queues || 0);

  const header = ['job', 'q', 'ours', 'qsd IOPS', 'ours IOPS', 'ours/qsd', 'qsd mean/p99 us', 'ours mean/p99 us', 'qsd CPU', 'ours CPU', 'qsd us/IO', 'ours us/IO', 'sleeps/IO', 'guest idle', 'order'];
  if (o.rounds > 1) header.push('rounds', 'ratio per round');
  const cells = rows.map((x) => [
    x.job,
    String(x.queues),
    x.variant === 'vduse-blk' ? 'vduse-blk' : (x.variant || '-').replace(/^vduse-blk /, ''),
    fmtInt(x.qsd && x.qsd.iops),
    fmtInt(x.ours && x.ours.iops),
    x.ratio === null ? '-' : x.ratio.toFixed(2),
    fmtLat(x.qsd),
    fmtLat(x.ours),
    fmtPct(x.qsd),
    fmtPct(x.ours),
    fmtPerIo(x.qsd),
    fmtPerIo(x.ours),
    fmtPair(x.qsd, x.ours, 'server_sleeps_per_io', (v) => v.toFixed(2)),
    fmtPair(x.qsd, x.ours, 'guest_idle_pct', (v) => `${Math.round(v)}%`),
    x.order.map(orderLabel).join('>') + (x.contended ? ' *' : ''),
    ...(o.rounds > 1
      ? [`${x.rounds_used.length}/${x.rounds_total}`, x.ratio_per_round.map((v) => (v === null ? '-' : v.toFixed(2))).join(' ')]
      : []),
  ]);

  const expectedOk = expectedRuns === null || runs.length === expectedRuns;
  const ok = r.status === 0 && !r.timedOut && errors.length === 0 && done !== null && expectedOk;
  const wallSec = (Date.now() - t0) / 1000;
  const guestState = r.timedOut ? `TIMED OUT after ${Math.round(timeoutSec)}s` : r.marker === null ? 'ended without an exit marker' : `exit status ${r.marker}`;

  console.log('');
  console.log(`==== bench:vm — qemu-storage-daemon (qsd) vs vduse-blk, TCG guest, ${info.cpus ?? '?'} vCPUs, kernel ${info.kernel ?? '?'} ====`);
  console.log(`fio libaio direct=1, ${o.runtime}s (+${o.ramp}s ramp) per run, ${o.imageMb} MiB random-filled image in guest tmpfs, queue size 256`);
  console.log(table(header, cells));
  console.log('ratio = ours IOPS / qsd IOPS (> 1: ours faster). Latency: fio total latency (lat_ns) mean / p99, microseconds.');
  console.log('us/IO = server CPU per request, user+kernel microseconds (its CPU time / fio wall time / IOPS, split as its threads\' user and system times).');
  console.log('sleeps/IO = times the server\'s threads went to sleep (then woke) per request, qsd/ours (voluntary context switches).');
  console.log('guest idle = the guest\'s unused CPU time over the run, qsd/ours (near 0: CPU-bound, and us/IO decides).');
  console.log("CPU = server process CPU time / fio wall time (100% = one vCPU). 'ours-pin' = vduse-blk --cpus 0,1 (queue i's worker and IRQ on CPU i);");
  if (o.pollUs > 0) console.log(`'ours-poll' = vduse-blk --poll-us ${o.pollUs} (adaptive polling of the ring for up to ${o.pollUs} us before sleeping).`);
  console.log("order = which server ran first for that job (all a phase's servers are attached at once; the order alternates from job to job).");
  if (o.rounds > 1) console.log('rounds = rounds used (those with neither run disturbed; all when none was clean); the numbers are their medians.');
  for (const e of errors) console.log(`ERROR: ${e.error}${e.server ? ` [${e.server}${e.queues ? ` q=${e.queues}` : ''}${e.job ? ` ${e.job}` : ''}]` : ''}`);
  if (!expectedOk) console.log(`ERROR: ${runs.length} fio runs reported, ${expectedRuns} expected`);
  console.log(
    `runs ${runs.length}, guest ${guestState} after ${guestSec.toFixed(0)}s, total wall ${wallSec.toFixed(0)}s` +
      `${waited.waitedSec >= 1 ? ` (of which ${waited.waitedSec.toFixed(0)}s waiting for another guest)` : ''}; host load ${loadBefore.map((x) => x.toFixed(1)).join(' ')}`,
  );
  if (contention.length) {
    const pids = [...new Set(contention.flatMap((c) => c.pids))];
    console.log(`WARNING: another test guest (QEMU pid ${pids.join(', ')}) ran on this host during ${contention.map((c) => `${new Date(c.from).toISOString().slice(11, 19)}-${new Date(c.until).toISOString().slice(11, 19)}`).join(', ')} UTC`);
  }
  const busyRuns = runs.filter((x) => x.meta.host_other_cpus > BUSY_HOST);
  if (busyRuns.length) {
    console.log(`WARNING: other host processes used more than ${BUSY_HOST} CPUs during run(s) ${busyRuns.map((x) => `${x.meta.seq} (${x.meta.host_other_cpus.toFixed(2)})`).join(', ')}`);
  }
  if (contention.length || busyRuns.length) console.log('rows marked * had a run disturbed by other work on the host: their absolute numbers (and, less so, ratios) are off');

  fs.mkdirSync(path.dirname(o.out), { recursive: true });
  const result = {
    generated: new Date().toISOString(),
    ok,
    config: { runtime_s: o.runtime, ramp_s: o.ramp, warmup_s: o.warmup, rounds: o.rounds, image_mb: o.imageMb, queues: o.queues, jobs: o.jobs || 'all', cpus_variant: o.cpusVariant, poll_us: o.pollUs },
    host: { cpus: os.cpus().length, cpu_model: os.cpus()[0] && os.cpus()[0].model, loadavg_before: loadBefore, loadavg_after: os.loadavg(),
      other_guests: contention.map((c) => ({ from: new Date(c.from).toISOString(), until: new Date(c.until).toISOString(), pids: c.pids })) },
    guest: { ...info, status: r.status, timed_out: r.timedOut, seconds: r.seconds, console_log: r.logFile },
    wall_s: wallSec,
    waited_for_other_guest_s: waited.waitedSec,
    rows: rows.map((x) => ({
      job: x.job, queues: x.queues, variant: x.variant, order: x.order, ratio: x.ratio, disturbed: x.contended,
      ratio_per_round: x.ratio_per_round, rounds_used: x.rounds_used,
      qsd: x.qsd && strip(x.qsd), ours: x.ours && strip(x.ours),
    })),
    errors,
    runs: runs.sort((a, b) => a.meta.seq - b.meta.seq),
  };
  fs.writeFileSync(o.out, JSON.stringify(result, null, 1) + '\n');
  console.log(`results: ${path.relative(process.cwd(), o.out) || o.out}; guest console: ${r.logFile}`);
  if (!ok) console.log('bench:vm: the run FAILED (see the errors above and the guest console)');
  return ok ? 0 : 1;
}

const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
/** Medians of each metric over runs (one run: its metrics). */
function aggregate(list) {
  if (list.length === 0) return null;
  if (list.length === 1) return list[0].metrics;
  const out = {};
  for (const k of Object.keys(list[0].metrics)) {
    out[k] = typeof list[0].metrics[k] === 'number' ? median(list.map((x) => x.metrics[k])) : list[0].metrics[k];
  }
  return out;
}

function strip(m) {
  const { iops, lat_mean_us, lat_p50_us, lat_p99_us, lat_p999_us, bw_kib_s, server_cpu_pct, server_user_us_per_io, server_sys_us_per_io, guest_idle_pct, server_sleeps_per_io } = m;
  return { iops, bw_kib_s, lat_mean_us, lat_p50_us, lat_p99_us, lat_p999_us, server_cpu_pct, server_user_us_per_io, server_sys_us_per_io, guest_idle_pct, server_sleeps_per_io };
}

/** The sum of an object's values ({"comm": seconds, ...} and the like). */
const sumOf = (o) => Object.values(o).reduce((a, b) => a + b, 0);

/**
 * How often the server's threads went to sleep per request (voluntary
 * context switches, all threads; each is followed by a wake-up). Under TCG
 * a wake-up is dear, and dearer for a big process (QEMU's emulated TLB is
 * refilled page by page after an address-space switch, as far as we know),
 * so this, with us/IO, says where a server's CPU goes.
 */
export function sleepsPerIo(run) {
  const { server_thread_sleeps: sleeps, wall_s: wall } = run.meta;
  const iops = run.metrics.iops;
  if (!sleeps || !(wall > 0 && iops > 0)) return {};
  return { server_sleeps_per_io: sumOf(sleeps) / wall / iops };
}

/**
 * How much of the guest's CPU time went unused during the run (idle and
 * iowait over all CPUs): near 0 the guest is CPU-bound and a server's CPU
 * per request sets its throughput; well above 0 something else does
 * (latency, a serial stage).
 */
export function guestIdle(run) {
  const g = run.meta.guest_cpu_s;
  if (!g) return {};
  const total = sumOf(g);
  return total > 0 ? { guest_idle_pct: (100 * ((g.idle ?? 0) + (g.iowait ?? 0))) / total } : {};
}

/**
 * The server's CPU per request, split into user and kernel time: the
 * process's CPU over the run's wall time (ramp included) divided by the
 * IOPS, split as its threads' user and system times are. Where the guest is
 * CPU-bound this is what a server's throughput is made of.
 */
export function cpuPerIo(run) {
  const { server_cpu_s: cpu, wall_s: wall, server_thread_cpu_s: threads = {}, server_thread_sys_s: sys = {} } = run.meta;
  const iops = run.metrics.iops;
  if (!(cpu >= 0 && wall > 0 && iops > 0)) return {};
  const perIo = (1e6 * cpu) / wall / iops;
  const threadCpu = sumOf(threads);
  const threadSys = sumOf(sys);
  const sysShare = threadCpu > 0 ? Math.min(1, threadSys / threadCpu) : NaN;
  return { server_user_us_per_io: perIo * (1 - sysShare), server_sys_us_per_io: perIo * sysShare };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(`[bench:vm] ${err.stack || err}`);
      process.exit(1);
    },
  );
}
