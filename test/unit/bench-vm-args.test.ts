/**
 * bench:vm's argument checks run before anything boots: a bad argument is
 * exit status 2 with the reason, not a guest boot that fails minutes later.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const vmScript = fileURLToPath(new URL('../../../bench/vm.mjs', import.meta.url));

function runVm(...args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [vmScript, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stderr: r.stderr };
}

t.test('--variant-cli under /tmp is refused: the guest has a /tmp of its own', async (t) => {
  const r = runVm('--variant-cli', '/tmp/other/dist/src/cli.js');
  t.equal(r.status, 2);
  t.match(r.stderr, /--variant-cli \/tmp\/other\/dist\/src\/cli\.js: the guest has its own \/tmp/);
});

t.test('--variant-cli naming a missing file is refused', async (t) => {
  const r = runVm('--variant-cli', '/nonexistent-vduse-blk-build/dist/src/cli.js');
  t.equal(r.status, 2);
  t.match(r.stderr, /no such file/);
});

t.test('an unknown argument is refused with its name', async (t) => {
  const r = runVm('--frobnicate');
  t.equal(r.status, 2);
  t.match(r.stderr, /unknown argument '--frobnicate'/);
});
