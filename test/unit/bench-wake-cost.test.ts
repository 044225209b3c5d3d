/**
 * bench:wake (bench/wake-cost.ts) and bench:vm:wake's argument checks: a
 * short native run of every mode bounces tokens and charges the device
 * thread some CPU per round trip; bad arguments fail before anything runs.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { WAKE_MODES, runWakeMode } from '../../bench/wake-cost.js';

const script = fileURLToPath(new URL('../../bench/wake-cost.js', import.meta.url));
const vmScript = fileURLToPath(new URL('../../../bench/vm-wake.mjs', import.meta.url));

for (const mode of WAKE_MODES) {
  t.test(`wake-cost ${mode}: round trips happen and the device thread is charged for them`, async (t) => {
    const s = await runWakeMode(mode, 0.2);
    t.equal(s.mode, mode);
    t.ok(s.perSecond > 100, `${s.perSecond.toFixed(0)} round trips per second`);
    t.ok(s.usPerWake > 0 && Number.isFinite(s.usPerWake), `${s.usPerWake.toFixed(2)} us per wake-up`);
  });
}

t.test('wake-cost prints one row per mode', async (t) => {
  const run = spawnSync(process.execPath, [script, '--seconds', '0.1', '--rounds', '1', '--modes', 'c,watch'],
    { encoding: 'utf8' });
  t.equal(run.status, 0, run.stderr);
  t.match(run.stdout, /^c +\d+\.\d\d +1\.00 +\d+ /m);
  t.match(run.stdout, /^watch +\d+\.\d\d +\d+\.\d\d +\d+ /m);
});

t.test('wake-cost refuses an unknown mode and a bad round count', async (t) => {
  let run = spawnSync(process.execPath, [script, '--modes', 'c,spin'], { encoding: 'utf8' });
  t.equal(run.status, 1);
  t.match(run.stderr, /unknown mode spin/);
  run = spawnSync(process.execPath, [script, '--rounds', '0'], { encoding: 'utf8' });
  t.equal(run.status, 1);
  t.match(run.stderr, /--rounds 0: a whole number/);
});

t.test('bench:vm:wake refuses bad arguments before booting anything', async (t) => {
  const run = spawnSync(process.execPath, [vmScript, '--rounds', 'x'], { encoding: 'utf8' });
  t.equal(run.status, 2);
  t.match(run.stderr, /--rounds must be a positive integer, not x/);
});
