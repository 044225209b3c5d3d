/**
 * bench:vm:profile's command line (bench/vm-profile.mjs): bad arguments are
 * refused with status 2 and a message before anything is set up or booted;
 * its guest script is valid bash.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const profile = (...args: string[]) =>
  spawnSync(process.execPath, ['bench/vm-profile.mjs', ...args], { cwd: root, encoding: 'utf8', timeout: 20_000 });

t.test('bad arguments: status 2, a message naming the problem, no guest', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--server', 'spdk'], /--server must be ours or qsd, not spdk/],
    [['--job', 'randread-1m'], /unknown --job randread-1m/],
    [['--seconds', '0'], /--seconds must be a positive integer, not 0/],
    [['--queues', 'two'], /--queues must be a positive integer, not two/],
    [['--bogus'], /bench:vm:profile: Unknown option '--bogus'/],
  ];
  for (const [args, message] of cases) {
    const r = profile(...args);
    t.equal(r.status, 2, args.join(' '));
    t.match(r.stderr, message, args.join(' '));
    t.notMatch(r.stderr, /vm-setup|booting/, `${args.join(' ')}: nothing set up`);
  }
});

t.test('the guest script parses', async (t) => {
  const r = spawnSync('bash', ['-n', 'test/vm/bench/guest-profile.sh'], { cwd: root, encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
});
