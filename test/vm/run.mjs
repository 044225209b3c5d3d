#!/usr/bin/env node
// Real-kernel VM test suite: `node test/vm/run.mjs [FILTER...]`
//
// Runs test/vm/setup.sh (idempotent), boots ONE guest (boots are slow under
// TCG) that runs every selected scenario (test/vm/scenarios/NN-name.sh) via
// test/vm/guest/run-scenarios.sh, parses the `SCENARIO <name> PASS|FAIL <n>s`
// lines, prints a summary and, as the last line, `N passed, N failed`.
// Exit status 0 only if every selected scenario passed and the guest ended
// normally; a scenario without a result line (guest crash or timeout) counts
// as failed.
//
// Environment:
//   VDUSE_VM_SCENARIOS         filter: names or parts of names, comma or blank
//                              separated (`00`, `smoke,10-attach`); also argv
//   VDUSE_VM_TIMEOUT           wall-clock limit for the guest, seconds (default:
//                              120 + sum of scenario timeouts, at most 2400)
//   VDUSE_VM_SCENARIO_TIMEOUT  default per-scenario timeout, seconds (300)
//   VDUSE_VM_VERBOSE=1         stream scenario output live (default: only on failure)
//   VDUSE_VM_QUIET=1           do not echo the guest console (summary only)
//   VDUSE_VM_LOG_DIR           where console.log goes (default <cache>/logs)
//   VDUSE_VM_CACHE, VDUSE_VM_MEM, VDUSE_VM_SMP, VDUSE_VM_9P_CACHE: see README.md
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { VM_DIR, bootGuest, runSetup } from './boot.mjs';

const SCENARIO_DIR = path.join(VM_DIR, 'scenarios');
const RESULT_RE = /^SCENARIO (\S+) (PASS|FAIL) (\d+)s\s*$/;
const DEFAULT_SCENARIO_TIMEOUT = Number(process.env.VDUSE_VM_SCENARIO_TIMEOUT || 300);

export function listScenarios() {
  return fs
    .readdirSync(SCENARIO_DIR)
    .filter((f) => /^\d\d-[\w.-]+\.sh$/.test(f))
    .sort()
    .map((f) => {
      const head = fs.readFileSync(path.join(SCENARIO_DIR, f), 'utf8').split('\n').slice(0, 20).join('\n');
      const m = /^#\s*vm-timeout:\s*(\d+)/m.exec(head);
      return { name: f.replace(/\.sh$/, ''), timeout: m ? Number(m[1]) : DEFAULT_SCENARIO_TIMEOUT };
    });
}

export function selectScenarios(all, filterText) {
  const tokens = (filterText || '').split(/[\s,]+/).filter(Boolean);
  if (tokens.length === 0) return all;
  return all.filter((s) => tokens.some((t) => s.name === t || s.name.includes(t)));
}

async function main(argv) {
  const all = listScenarios();
  const filter = [process.env.VDUSE_VM_SCENARIOS || '', ...argv].join(' ');
  const selected = selectScenarios(all, filter);
  if (selected.length === 0) {
    console.error(`[vm] no scenario matches "${filter.trim()}"; have: ${all.map((s) => s.name).join(' ')}`);
    console.log('0 passed, 0 failed');
    return 2;
  }
  const timeoutSec = Number(
    process.env.VDUSE_VM_TIMEOUT || Math.min(2400, 120 + selected.reduce((a, s) => a + s.timeout + 20, 0)),
  );

  const t0 = Date.now();
  console.error('[vm] setup (test/vm/setup.sh)');
  const vm = runSetup();
  const setupSec = (Date.now() - t0) / 1000;
  console.error(`[vm] setup done in ${setupSec.toFixed(1)}s: kernel ${vm.VM_KVER}`);
  console.error(`[vm] booting one guest for ${selected.length} scenario(s): ${selected.map((s) => s.name).join(' ')} (timeout ${timeoutSec}s)`);

  const results = new Map();
  let bootedAt = null;
  const r = await bootGuest({
    vm,
    script: path.join(VM_DIR, 'guest', 'run-scenarios.sh'),
    timeoutSec,
    quiet: process.env.VDUSE_VM_QUIET === '1',
    env: {
      VDUSE_VM_SCENARIO_LIST: selected.map((s) => s.name).join(' '),
      VDUSE_VM_SCENARIO_TIMEOUT: String(DEFAULT_SCENARIO_TIMEOUT),
      VDUSE_VM_VERBOSE: process.env.VDUSE_VM_VERBOSE || '0',
    },
    onLine(line) {
      if (bootedAt === null && line.startsWith('[vm-stage2]')) bootedAt = Date.now();
      const m = RESULT_RE.exec(line);
      if (m) results.set(m[1], { status: m[2], seconds: Number(m[3]) });
    },
  });

  let passed = 0;
  let failed = 0;
  const rows = [];
  for (const s of selected) {
    const res = results.get(s.name);
    if (res && res.status === 'PASS') passed++;
    else failed++;
    rows.push(`  ${(res ? res.status : 'NO RESULT').padEnd(9)} ${s.name}${res ? ` (${res.seconds}s)` : ''}`);
  }
  const guest = r.timedOut
    ? `TIMED OUT after ${timeoutSec}s`
    : r.marker === null
      ? 'ended WITHOUT an exit marker (crash/panic?)'
      : `exit status ${r.marker}`;
  const bootSec = bootedAt ? ((bootedAt - t0) / 1000 - setupSec) : null;
  console.log('');
  console.log('==== VM scenario summary ====');
  for (const row of rows) console.log(row);
  console.log(
    `  setup ${setupSec.toFixed(1)}s, boot ${bootSec === null ? '?' : bootSec.toFixed(1)}s, guest total ${r.seconds.toFixed(1)}s; guest ${guest}`,
  );
  console.log(`  console log: ${r.logFile}`);
  console.log(`${passed} passed, ${failed} failed`);
  const ok = failed === 0 && !r.timedOut && r.marker === 0;
  return ok ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(`[vm] ${err.stack || err}`);
      console.log('0 passed, 1 failed');
      process.exit(1);
    },
  );
}
