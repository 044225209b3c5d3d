/**
 * bench:chain runs its chains through the real device path and stops with an
 * error when any request does not complete OK with the whole chain written
 * (bench/chain-walk.ts): run it briefly, both backends, 4 KiB and 32 pages.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const script = fileURLToPath(new URL('../../bench/chain-walk.js', import.meta.url));

for (const args of [['--bs', '4096'], ['--bs', '131072', '--memory']]) {
  t.test(`chain-walk ${args.join(' ')}`, async (t) => {
    const run = spawnSync(process.execPath, [script, '--seconds', '0.05', ...args], { encoding: 'utf8' });
    t.equal(run.status, 0, run.stderr);
    t.match(run.stdout, /^(null|memory) \d+ B reads: \d+ ns per request/);
  });
}

t.test('chain-walk refuses a block size that is not whole pages', async (t) => {
  const run = spawnSync(process.execPath, [script, '--bs', '1000'], { encoding: 'utf8' });
  t.not(run.status, 0);
  t.match(run.stderr, /--bs 1000: a multiple of 4096/);
});
