// Tests of the native addon against the real kernel: every assertion checks a
// syscall's effect (counters, shared pages, allocated blocks, netlink replies),
// on the main thread and inside worker threads. Needs no root.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import t from 'tap';
import { native, type NativeConstants, type NativeError } from '../../src/shared/native.js';

const n = native();
const c = n.constants;
// dist/test/unit → the addon, for workers and child processes (plain require).
const addonPath = fileURLToPath(new URL('../../../build/Release/vduse_native.node', import.meta.url));

const FIONREAD = 0x541b;
const FIONCLEX = 0x5450;
const FIOCLEX = 0x5451;

function u64(value: bigint): Uint8Array {
  return new Uint8Array(new BigUint64Array([value]).buffer);
}

function readU64(fd: number): bigint | -1 {
  const buf = new BigUint64Array(1);
  const got = n.read(fd, new Uint8Array(buf.buffer));
  return got === -1 ? -1 : buf[0]!;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Is O_CLOEXEC set on this fd, as /proc reports it (flags are octal). */
function isCloexec(fd: number): boolean {
  const flags = /flags:\s+([0-7]+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!;
  return (parseInt(flags, 8) & c.O_CLOEXEC) !== 0;
}

/** Runs CommonJS `code` in a worker (with `addon` and `workerData` in scope); resolves its first message. */
function inWorker<T>(code: string, data: unknown = null): Promise<T> {
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const addon = require(workerData.addonPath);
     (async () => { ${code} })().then((r) => parentPort.postMessage({ ok: r }), (e) => parentPort.postMessage({ err: String(e && e.stack || e) }));`,
    { eval: true, workerData: { addonPath, data } },
  );
  return new Promise<T>((resolve, reject) => {
    worker.once('message', (m: { ok?: T; err?: string }) => {
      if (m.err !== undefined) reject(new Error(m.err));
      else resolve(m.ok as T);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited (${code}) before answering`)));
  });
}

/** Runs CommonJS `code` in a fresh node process with `addon` loaded. */
function inChild(code: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['-e', `const addon = require(${JSON.stringify(addonPath)});\n${code}`], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A CTRL_CMD_GETFAMILY request for "nlctrl" (linux/genetlink.h), built by hand. */
function getFamilyRequest(seq: number): Uint8Array {
  const name = Buffer.from('nlctrl\0');
  const attrLen = 4 + name.length; // nla_len excludes padding
  const total = 16 + 4 + ((attrLen + 3) & ~3);
  const buf = Buffer.alloc(total);
  buf.writeUInt32LE(total, 0); // nlmsg_len
  buf.writeUInt16LE(0x10, 4); // nlmsg_type: GENL_ID_CTRL
  buf.writeUInt16LE(0x1, 6); // nlmsg_flags: NLM_F_REQUEST
  buf.writeUInt32LE(seq, 8); // nlmsg_seq
  buf.writeUInt32LE(0, 12); // nlmsg_pid
  buf.writeUInt8(3, 16); // genl cmd: CTRL_CMD_GETFAMILY
  buf.writeUInt8(1, 17); // genl version
  buf.writeUInt16LE(attrLen, 20); // nla_len
  buf.writeUInt16LE(2, 22); // nla_type: CTRL_ATTR_FAMILY_NAME
  name.copy(buf, 24);
  return buf;
}

/** Parses the reply: its message type and the u16 CTRL_ATTR_FAMILY_ID (attribute 1). */
function parseFamilyReply(bytes: Uint8Array): { type: number; seq: number; familyId: number | undefined } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = buf.readUInt32LE(0);
  let familyId: number | undefined;
  for (let off = 20; off + 4 <= len; ) {
    const nlaLen = buf.readUInt16LE(off);
    if (nlaLen < 4) break;
    if ((buf.readUInt16LE(off + 2) & 0x3fff) === 1) familyId = buf.readUInt16LE(off + 4);
    off += (nlaLen + 3) & ~3;
  }
  return { type: buf.readUInt16LE(4), seq: buf.readUInt32LE(8), familyId };
}

t.test('constants: every name is a number from the C headers', async (t) => {
  const names: (keyof NativeConstants)[] = [
    'O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_NONBLOCK', 'O_CLOEXEC', 'O_CREAT', 'O_DIRECT',
    'EFD_NONBLOCK', 'EFD_CLOEXEC', 'EFD_SEMAPHORE', 'MFD_CLOEXEC',
    'PROT_READ', 'PROT_WRITE', 'MAP_SHARED',
    'FALLOC_FL_KEEP_SIZE', 'FALLOC_FL_PUNCH_HOLE', 'FALLOC_FL_ZERO_RANGE',
    'AF_NETLINK', 'SOCK_RAW', 'SOCK_CLOEXEC', 'NETLINK_GENERIC',
    'POLLIN', 'POLLOUT', 'POLLERR', 'POLLHUP', 'UV_READABLE', 'UV_WRITABLE',
  ];
  for (const name of names) t.type(c[name], 'number', name);
  t.equal(c.O_RDWR, fs.constants.O_RDWR);
  t.equal(c.O_CREAT, fs.constants.O_CREAT);
  t.equal(c.AF_NETLINK, 16);
  t.equal(c.FALLOC_FL_PUNCH_HOLE, 2);
  t.ok(Object.isFrozen(c), 'frozen');
});

t.test('errors carry code, negative errno, syscall and a readable message', async (t) => {
  const missing = path.join(os.tmpdir(), `vduse-native-missing-${process.pid}`);
  t.throws(() => n.open(missing, c.O_RDONLY), {
    code: 'ENOENT', errno: -2, syscall: 'open', message: 'open: No such file or directory (ENOENT)',
  });
  const efd = n.eventfd(0, c.EFD_CLOEXEC);
  t.teardown(() => n.close(efd));
  // 0xc0208110 does not fit in an int32: must still reach the kernel as is.
  t.throws(() => n.ioctl(efd, 0xc0208110), { code: 'ENOTTY', errno: -25, syscall: 'ioctl' });
  t.throws(() => n.ioctl(efd, 0x1234, new Uint8Array(8)), { code: 'ENOTTY', errno: -25 });
  t.throws(() => n.close(1_000_000), { code: 'EBADF', errno: -9, syscall: 'close' });
  let caught: unknown;
  try {
    n.dup(-1);
  } catch (e) {
    caught = e;
  }
  t.ok(caught instanceof Error, 'a real Error');
  t.equal((caught as NativeError).code, 'EBADF');
  t.equal((caught as NativeError).syscall, 'dup');
});

t.test('bad arguments are TypeErrors, not crashes', async (t) => {
  const call = n as unknown as Record<string, (...args: unknown[]) => unknown>;
  t.throws(() => call.read!('3', new Uint8Array(8)), TypeError);
  t.throws(() => call.read!(0, 'not bytes'), TypeError);
  t.throws(() => call.ioctl!(0, 1, {}), TypeError);
  t.throws(() => call.setAffinity!('0'), TypeError);
  t.throws(() => call.watch!(0, 1, 'not a function'), TypeError);
  t.throws(() => call.poll!([0], [], 0), RangeError);
});

t.test('eventfd: counter round trip, EAGAIN as -1, semaphore mode', async (t) => {
  const efd = n.eventfd(0, c.EFD_NONBLOCK | c.EFD_CLOEXEC);
  t.teardown(() => n.close(efd));
  t.equal(readU64(efd), -1, 'empty non-blocking eventfd reads -1');
  t.equal(n.write(efd, u64(5n)), 8);
  t.equal(n.write(efd, u64(3n)), 8);
  t.equal(readU64(efd), 8n, 'writes add up');
  t.equal(readU64(efd), -1, 'read reset the counter');
  // A write past the counter's maximum would block: -1 on a non-blocking fd.
  t.equal(n.write(efd, u64(0xfffffffffffffffen)), 8);
  t.equal(n.write(efd, u64(1n)), -1, 'write that would block returns -1');

  const sem = n.eventfd(2, c.EFD_NONBLOCK | c.EFD_SEMAPHORE);
  t.teardown(() => n.close(sem));
  t.equal(readU64(sem), 1n);
  t.equal(readU64(sem), 1n);
  t.equal(readU64(sem), -1);
});

t.test('dup shares the open file; close releases the fd', async (t) => {
  const efd = n.eventfd(0, c.EFD_NONBLOCK);
  const copy = n.dup(efd);
  t.not(copy, efd);
  n.write(copy, u64(7n));
  t.equal(readU64(efd), 7n, 'written through the dup, read through the original');
  t.ok(isCloexec(copy), 'dup gives a close-on-exec fd');
  n.close(copy);
  t.throws(() => n.read(copy, new Uint8Array(8)), { code: 'EBADF', syscall: 'read' });
  n.close(efd);
});

t.test('ioctl: buffer argument is read and written in place; integer and no argument', async (t) => {
  const fd = n.memfdCreate('vduse-ioctl', c.MFD_CLOEXEC);
  t.teardown(() => n.close(fd));
  n.ftruncate(fd, 12345);
  // FIONREAD on a regular file stores (size - position) in the int we pass.
  const out = new Uint8Array(8).fill(0xff);
  t.equal(n.ioctl(fd, FIONREAD, out), 0);
  t.equal(Buffer.from(out).readInt32LE(0), 12345);
  t.equal(out[4], 0xff, 'bytes past the int untouched');
  // A view into the middle of a larger buffer: the pointer honours byteOffset.
  const big = new Uint8Array(16);
  t.equal(n.ioctl(fd, FIONREAD, big.subarray(8)), 0);
  t.equal(Buffer.from(big).readInt32LE(8), 12345);
  t.equal(Buffer.from(big).readInt32LE(0), 0);

  t.ok(isCloexec(fd));
  t.equal(n.ioctl(fd, FIONCLEX), 0);
  t.notOk(isCloexec(fd), 'FIONCLEX with no argument cleared close-on-exec');
  t.equal(n.ioctl(fd, FIOCLEX, 0), 0);
  t.ok(isCloexec(fd), 'FIOCLEX with an integer argument set it again');
});

t.test('memfd + mmap: two views share pages; munmap detaches, twice is harmless', async (t) => {
  const page = 4096;
  const fd = n.memfdCreate('vduse-mmap', c.MFD_CLOEXEC);
  t.teardown(() => n.close(fd));
  n.ftruncate(fd, 4 * page);
  const prot = c.PROT_READ | c.PROT_WRITE;
  const a = n.mmap(fd, 0, 4 * page, prot, c.MAP_SHARED);
  const b = n.mmap(fd, 0, 4 * page, prot, c.MAP_SHARED);
  const tail = n.mmap(fd, 2 * page, 2 * page, prot, c.MAP_SHARED);
  t.ok(a instanceof ArrayBuffer);
  t.equal(a.byteLength, 4 * page);
  t.equal(tail.byteLength, 2 * page);

  new Uint8Array(a)[10] = 0x5a;
  t.equal(new Uint8Array(b)[10], 0x5a, 'write through a, seen through b');
  new Uint32Array(b)[(2 * page) / 4] = 0xdeadbeef;
  t.equal(new Uint32Array(tail)[0], 0xdeadbeef, 'offset mapping sees the same page');
  t.equal(new Uint32Array(a)[(2 * page) / 4], 0xdeadbeef);

  // read(2) on the memfd sees what was stored through the mapping.
  const viaRead = new Uint8Array(16);
  t.equal(n.read(fd, viaRead), 16);
  t.equal(viaRead[10], 0x5a);

  n.munmap(a);
  t.equal(a.byteLength, 0, 'detached');
  t.doesNotThrow(() => n.munmap(a), 'second munmap is a no-op');
  t.equal(new Uint8Array(b)[10], 0x5a, 'other views of the memfd unaffected');
  n.munmap(b);
  n.munmap(tail);

  t.throws(() => n.mmap(fd, 0, 0, prot, c.MAP_SHARED), { code: 'EINVAL', errno: -22, syscall: 'mmap' });
  t.throws(() => n.mmap(fd, 100, page, prot, c.MAP_SHARED), { code: 'EINVAL' }, 'unaligned offset');
  t.throws(() => n.munmap(new ArrayBuffer(8)), TypeError, 'not a mapping');
});

t.test('madvise: over a mapped buffer from mmap; refuses any other buffer and an unmapped one', async (t) => {
  const page = 4096;
  const fd = n.memfdCreate('vduse-madvise', c.MFD_CLOEXEC);
  t.teardown(() => n.close(fd));
  n.ftruncate(fd, 4 * page);
  const buf = n.mmap(fd, 0, 4 * page, c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED);
  // MADV_HUGEPAGE is EINVAL only on a kernel built without THP.
  const thp = fs.existsSync('/sys/kernel/mm/transparent_hugepage/enabled');
  if (thp) t.doesNotThrow(() => n.madvise(buf, c.MADV_HUGEPAGE), 'advice taken');
  t.throws(() => n.madvise(buf, -1), { code: 'EINVAL', syscall: 'madvise' }, 'a bad advice is the kernel\'s EINVAL');
  t.throws(() => n.madvise(new ArrayBuffer(page), c.MADV_HUGEPAGE), TypeError, 'not a mapping');
  n.munmap(buf);
  t.throws(() => n.madvise(buf, c.MADV_HUGEPAGE), TypeError, 'unmapped');
});

t.test('mmap buffers are unmapped when collected (no leak of mappings)', async (t) => {
  const run = spawnSync(
    process.execPath,
    ['--expose-gc', '-e', `const addon = require(${JSON.stringify(addonPath)});
      const fd = addon.memfdCreate('gc', 0);
      addon.ftruncate(fd, 1 << 20);
      const count = () => require('fs').readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => l.includes('/memfd:gc')).length;
      for (let i = 0; i < 64; i++) addon.mmap(fd, 0, 1 << 20, 3, 1);
      const before = count();
      global.gc();
      // Finalizers run from the event loop after the collection.
      setTimeout(() => { global.gc(); setTimeout(() => console.log(before, count()), 50); }, 50);`],
    { encoding: 'utf8', timeout: 20_000 },
  );
  t.equal(run.status, 0, run.stderr);
  const [before, after] = run.stdout.trim().split(' ').map(Number);
  t.equal(before, 64, 'all 64 mappings present');
  t.equal(after, 0, 'finalizers unmapped them all');
});

t.test('fallocate PUNCH_HOLE|KEEP_SIZE frees blocks and reads back zeroes', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vduse-native-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'disk.img');
  const size = 1 << 20;
  fs.writeFileSync(file, Buffer.alloc(size, 0xab));
  const fd = n.open(file, c.O_RDWR | c.O_CLOEXEC);
  t.teardown(() => n.close(fd));
  fs.fsyncSync(fd);
  const before = fs.statSync(file).blocks;

  try {
    n.fallocate(fd, c.FALLOC_FL_PUNCH_HOLE | c.FALLOC_FL_KEEP_SIZE, 0, size / 2);
  } catch (e) {
    if ((e as NativeError).code === 'EOPNOTSUPP') return t.pass('skipped: this filesystem cannot punch holes');
    throw e;
  }
  const after = fs.statSync(file);
  t.equal(after.size, size, 'KEEP_SIZE');
  t.ok(after.blocks < before, `blocks went down (${before} → ${after.blocks})`);
  const data = fs.readFileSync(file);
  t.ok(data.subarray(0, size / 2).every((b) => b === 0), 'hole reads as zeroes');
  t.ok(data.subarray(size / 2).every((b) => b === 0xab), 'the rest is intact');

  t.throws(() => n.fallocate(fd, c.FALLOC_FL_PUNCH_HOLE, 0, 4096), { code: 'EOPNOTSUPP', syscall: 'fallocate' },
    'PUNCH_HOLE without KEEP_SIZE is refused by the kernel');
  n.ftruncate(fd, 4096);
  t.equal(fs.statSync(file).size, 4096, 'ftruncate shrank the file');
});

t.test('open with O_CREAT honours mode; write/read through the file', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vduse-native-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'new');
  const fd = n.open(file, c.O_RDWR | c.O_CREAT | c.O_CLOEXEC, 0o600);
  t.equal(n.write(fd, Buffer.from('hello')), 5);
  n.close(fd);
  t.equal(fs.readFileSync(file, 'utf8'), 'hello');
  t.equal(fs.statSync(file).mode & 0o777, 0o600);
});

t.test('preadv/pwritev: triples of views at an offset, short at end of file, errors', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vduse-native-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const fd = n.open(path.join(dir, 'f'), c.O_RDWR | c.O_CREAT | c.O_CLOEXEC, 0o600);
  t.teardown(() => n.close(fd));
  const a = new Uint8Array(64).map((_, i) => i + 1);
  const b = new Uint8Array(new ArrayBuffer(32), 16, 16).fill(0xee); // a base need not start its buffer
  // a[8..16) then all of b then a[0..4): 28 bytes at offset 100.
  t.equal(n.pwritev(fd, [a, b], new Float64Array([0, 8, 8, 1, 0, 16, 0, 0, 4]), 3, 100), 28);
  const onDisk = fs.readFileSync(path.join(dir, 'f'));
  t.equal(onDisk.length, 128);
  t.same([...onDisk.subarray(100, 128)], [...a.subarray(8, 16), ...new Array(16).fill(0xee), 1, 2, 3, 4]);

  const into = new Uint8Array(40);
  t.equal(n.preadv(fd, [into], new Float64Array([0, 30, 10, 0, 0, 30]), 2, 98), 30, 'short: the file ends at 128');
  t.same([...into.subarray(30, 40)], [0, 0, ...a.subarray(8, 16)], 'first triple, from offset 98');
  t.same([...into.subarray(0, 20)], [...new Array(16).fill(0xee), 1, 2, 3, 4], 'second triple, the rest');
  t.equal(n.preadv(fd, [into], new Float64Array([0, 0, 8]), 1, 128), 0, 'end of file');
  const lone = new Uint8Array(8);
  t.equal(n.preadv(fd, lone, new Float64Array([0, 0, 8]), 1, 100), 8, 'a lone base, not in an array');
  t.same([...lone], [...a.subarray(8, 16)]);

  t.throws(() => n.preadv(fd, [into], new Float64Array([0, 36, 5]), 1, 0), RangeError, 'past its base');
  t.throws(() => n.preadv(fd, [into], new Float64Array([1, 0, 1]), 1, 0), RangeError, 'no such base');
  t.throws(() => n.preadv(fd, [into], new Float64Array([0, 0, 1]), 2, 0), RangeError, 'fewer triples than count');
  t.throws(() => n.preadv(fd, [{} as Uint8Array], new Float64Array([0, 0, 1]), 1, 0), TypeError);
  t.throws(() => n.pwritev(fd, [into], [0, 0, 1] as unknown as Float64Array, 1, 0), TypeError);
  t.throws(() => n.preadv(1 << 29, [into], new Float64Array([0, 0, 1]), 1, 0), { code: 'EBADF', syscall: 'preadv' });
  t.throws(() => n.pwritev(fd, [into], new Float64Array([0, 0, 1]), 1, -1), { code: 'EINVAL', syscall: 'pwritev' });
  t.equal(fs.fstatSync(fd).size, 128, 'nothing written by a refused call');
});

t.test('poll: reports readiness per fd, returns 0 revents on timeout', async (t) => {
  const a = n.eventfd(0, c.EFD_NONBLOCK);
  const b = n.eventfd(0, c.EFD_NONBLOCK);
  t.teardown(() => {
    n.close(a);
    n.close(b);
  });
  t.same(n.poll([a, b], [c.POLLIN, c.POLLIN], 0), [0, 0]);
  const start = Date.now();
  t.same(n.poll([a], [c.POLLIN], 30), [0]);
  t.ok(Date.now() - start >= 25, 'waited for the timeout');
  n.write(b, u64(1n));
  t.same(n.poll([a, b], [c.POLLIN, c.POLLIN | c.POLLOUT], -1), [0, c.POLLIN | c.POLLOUT]);
  t.same(n.poll([], [], 0), []);
});

t.test('watch: fires when the eventfd is written, close stops it', async (t) => {
  const efd = n.eventfd(0, c.EFD_NONBLOCK | c.EFD_CLOEXEC);
  t.teardown(() => n.close(efd));
  const seen: [NativeError | null, number, bigint | -1][] = [];
  let wake: (() => void) | undefined;
  const watcher = n.watch(efd, c.UV_READABLE, (err, events) => {
    seen.push([err, events, readU64(efd)]);
    wake?.();
  });
  const fired = () => new Promise<void>((resolve) => (wake = resolve));

  let next = fired();
  n.write(efd, u64(3n));
  await next;
  t.same(seen, [[null, c.UV_READABLE, 3n]]);

  next = fired();
  n.write(efd, u64(4n));
  await next;
  t.equal(seen.length, 2);
  t.equal(seen[1]![2], 4n);

  watcher.close();
  t.doesNotThrow(() => watcher.close(), 'close is idempotent');
  t.doesNotThrow(() => {
    watcher.ref();
    watcher.unref();
  }, 'ref/unref after close are no-ops');
  n.write(efd, u64(5n));
  await sleep(50);
  t.equal(seen.length, 2, 'no callback after close');
  t.equal(readU64(efd), 5n, 'the write was there, unobserved');
});

t.test('watch: close from inside the callback; a watcher object can be dropped', async (t) => {
  const efd = n.eventfd(0, c.EFD_NONBLOCK);
  t.teardown(() => n.close(efd));
  let calls = 0;
  await new Promise<void>((resolve) => {
    const w = n.watch(efd, c.UV_READABLE, () => {
      calls++;
      w.close(); // the counter stays non-zero: without close this would spin
      setTimeout(resolve, 30);
    });
    n.write(efd, u64(1n));
  });
  t.equal(calls, 1);

  // Nothing references the watcher after this call; it must keep working.
  const efd2 = n.eventfd(0, c.EFD_NONBLOCK);
  t.teardown(() => n.close(efd2));
  const got = new Promise<number>((resolve) => {
    // unref: it is never closed, and must not hold this test process open.
    n.watch(efd2, c.UV_READABLE, (_err, events) => {
      readU64(efd2);
      resolve(events);
    }).unref();
  });
  const keepAlive = setInterval(() => {}, 1000); // the unref'd watcher will not
  (globalThis as { gc?: () => void }).gc?.();
  await sleep(10);
  n.write(efd2, u64(1n));
  t.equal(await got, c.UV_READABLE);
  clearInterval(keepAlive);
});

t.test('watch and the event loop: ref keeps a process alive, unref/close let it exit', async (t) => {
  const unrefd = inChild(`
    const fd = addon.eventfd(0, 0);
    addon.watch(fd, 1, () => {}).unref();
    setTimeout(() => console.log('timer'), 10);`);
  t.equal(unrefd.status, 0, unrefd.stderr);
  t.equal(unrefd.stdout, 'timer\n', 'exited after its last timer');

  const closed = inChild(`
    const fd = addon.eventfd(0, 0);
    const w = addon.watch(fd, 1, () => {});
    setTimeout(() => w.close(), 10);`);
  t.equal(closed.status, 0, closed.stderr);

  const refd = inChild(`
    const fd = addon.eventfd(0, 0);
    const w = addon.watch(fd, 1, () => { console.log('fired'); w.close(); });
    w.unref(); w.ref();
    setTimeout(() => addon.write(fd, new Uint8Array(new BigUint64Array([1n]).buffer)), 50);`);
  t.equal(refd.status, 0, refd.stderr);
  t.equal(refd.stdout, 'fired\n', 'the ref\'d watcher kept the process alive until it fired');

  const throwing = inChild(`
    const fd = addon.eventfd(1, 0);
    process.on('uncaughtException', (e) => { console.log('caught', e.message); process.exit(3); });
    addon.watch(fd, 1, () => { throw new Error('boom'); });`);
  t.equal(throwing.status, 3, 'a throwing callback is an uncaught exception');
  t.equal(throwing.stdout, 'caught boom\n');
});

t.test('watch of an invalid fd throws', async (t) => {
  t.throws(() => n.watch(-1, c.UV_READABLE, () => {}), { code: 'EBADF', errno: -9, syscall: 'uv_poll_init' });
});

t.test('affinity and thread identity apply to the calling thread only', async (t) => {
  const original = n.getAffinity();
  t.ok(original.length > 0);
  t.equal(n.gettid(), process.pid, 'the main thread\'s tid is the pid');
  // CPU 0 may be outside this container's cpuset: use the first allowed one.
  const cpu = original[0]!;
  n.setAffinity([cpu]);
  t.teardown(() => n.setAffinity(original));
  t.same(n.getAffinity(), [cpu]);
  n.setAffinity(original);
  t.same(n.getAffinity(), original, 'restored');
  t.throws(() => n.setAffinity([]), { code: 'EINVAL', syscall: 'sched_setaffinity' });
  t.throws(() => n.setAffinity([1 << 20]), { code: 'EINVAL' });

  const pinTo = original[original.length - 1]!;
  const fromWorker = await inWorker<{ tid: number; affinity: number[]; comm: string }>(
    `addon.setAffinity([workerData.data]);
     addon.setThreadName('vduse-q0-with-a-long-name');
     const tid = addon.gettid();
     const comm = require('fs').readFileSync('/proc/self/task/' + tid + '/comm', 'utf8').trim();
     return { tid, affinity: addon.getAffinity(), comm };`,
    pinTo,
  );
  t.same(fromWorker.affinity, [pinTo], 'the worker is pinned');
  t.not(fromWorker.tid, process.pid, 'the worker has its own tid');
  t.equal(fromWorker.comm, 'vduse-q0-with-a', 'name cut to 15 bytes');
  t.same(n.getAffinity(), original, 'the main thread was not pinned by the worker');
  t.not(fs.readFileSync(`/proc/self/task/${process.pid}/comm`, 'utf8').trim(), 'vduse-q0-with-a');
});

t.test('netlink: genetlink CTRL_CMD_GETFAMILY "nlctrl", sync and async', async (t) => {
  const fd = n.socket(c.AF_NETLINK, c.SOCK_RAW | c.SOCK_CLOEXEC, c.NETLINK_GENERIC);
  t.teardown(() => n.close(fd));
  n.bindNetlink(fd, 0, 0);

  const req = getFamilyRequest(1);
  t.equal(await n.sendAsync(fd, req), req.length);
  const reply = new Uint8Array(8192);
  const got = await n.recvAsync(fd, reply);
  t.ok(got > 20, `reply of ${got} bytes`);
  t.same(parseFamilyReply(reply.subarray(0, got)), { type: 0x10, seq: 1, familyId: 0x10 });

  const req2 = getFamilyRequest(2);
  t.equal(n.send(fd, req2), req2.length);
  const reply2 = Buffer.alloc(8192);
  const got2 = n.recv(fd, reply2);
  t.same(parseFamilyReply(reply2.subarray(0, got2)), { type: 0x10, seq: 2, familyId: 0x10 });

  await t.rejects(n.recvAsync(-1, reply), { code: 'EBADF', errno: -9, syscall: 'recv' });
  await t.rejects(n.sendAsync(-1, req), { code: 'EBADF', syscall: 'send' });
  t.throws(() => n.bindNetlink(-1, 0, 0), { code: 'EBADF', syscall: 'bind' });
});

t.test('recvAsync does not block the calling thread', async (t) => {
  const fd = n.socket(c.AF_NETLINK, c.SOCK_RAW | c.SOCK_CLOEXEC, c.NETLINK_GENERIC);
  t.teardown(() => n.close(fd));
  n.bindNetlink(fd, 0, 0);
  const order: string[] = [];
  const pending = n.recvAsync(fd, new Uint8Array(8192)).then((len) => {
    order.push('reply');
    return len;
  });
  await sleep(20);
  order.push('loop ran while recv waited');
  n.send(fd, getFamilyRequest(3));
  t.ok((await pending) > 20);
  t.same(order, ['loop ran while recv waited', 'reply']);
});

t.test('everything works inside a worker thread', async (t) => {
  const result = await inWorker<Record<string, unknown>>(`
    const c = addon.constants;
    const u64 = (v) => new Uint8Array(new BigUint64Array([v]).buffer);
    const efd = addon.eventfd(0, c.EFD_NONBLOCK);
    addon.write(efd, u64(41n));
    addon.write(efd, u64(1n));
    const counter = new BigUint64Array(1);
    addon.read(efd, new Uint8Array(counter.buffer));

    const mfd = addon.memfdCreate('worker', c.MFD_CLOEXEC);
    addon.ftruncate(mfd, 8192);
    const a = addon.mmap(mfd, 0, 8192, c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED);
    const b = addon.mmap(mfd, 4096, 4096, c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED);
    new Uint8Array(a)[4096 + 7] = 99;
    const shared = new Uint8Array(b)[7];
    addon.munmap(a);

    const watched = await new Promise((resolve) => {
      const w = addon.watch(efd, c.UV_READABLE, (err, events) => { w.close(); resolve(events); });
      setTimeout(() => addon.write(efd, u64(1n)), 5);
    });

    const nl = addon.socket(c.AF_NETLINK, c.SOCK_RAW | c.SOCK_CLOEXEC, c.NETLINK_GENERIC);
    addon.bindNetlink(nl, 0, 0);
    const req = Buffer.from(workerData.data, 'hex');
    await addon.sendAsync(nl, req);
    const reply = Buffer.alloc(8192);
    const len = await addon.recvAsync(nl, reply);
    addon.close(nl);

    let error;
    try { addon.ioctl(efd, 0x1234); } catch (e) { error = { code: e.code, errno: e.errno, syscall: e.syscall }; }
    return { counter: Number(counter[0]), shared, detached: a.byteLength, watched, replyType: reply.readUInt16LE(4), len, error };
  `, Buffer.from(getFamilyRequest(9)).toString('hex'));
  t.equal(result.counter, 42);
  t.equal(result.shared, 99);
  t.equal(result.detached, 0);
  t.equal(result.watched, c.UV_READABLE);
  t.equal(result.replyType, 0x10);
  t.ok((result.len as number) > 20);
  t.same(result.error, { code: 'ENOTTY', errno: -25, syscall: 'ioctl' });
});

t.test('workers torn down with open watchers and live mappings exit cleanly', async (t) => {
  const setup = `
    const c = addon.constants;
    const fd = addon.eventfd(0, c.EFD_NONBLOCK);
    const w = addon.watch(fd, c.UV_READABLE, () => {});
    const mfd = addon.memfdCreate('teardown', 0);
    addon.ftruncate(mfd, 65536);
    globalThis.keep = [w, addon.mmap(mfd, 0, 65536, c.PROT_READ | c.PROT_WRITE, c.MAP_SHARED)];`;
  const run = (code: string, onOnline?: (w: Worker) => void) =>
    new Promise<number>((resolve, reject) => {
      const worker = new Worker(
        `const { parentPort, workerData } = require('node:worker_threads');
         const addon = require(workerData.addonPath);
         ${setup}
         ${code}`,
        { eval: true, workerData: { addonPath } },
      );
      worker.on('error', reject);
      worker.on('message', () => onOnline?.(worker));
      worker.on('exit', resolve);
    });

  t.equal(await run(`parentPort.postMessage('ready');`, (w) => void w.terminate()), 1, 'terminate()');
  t.equal(await run(`keep[0].unref();`), 0, 'natural exit with an unref\'d, unclosed watcher');
  t.equal(await run(`process.exit(7);`), 7, 'process.exit in the worker');
  // Many short-lived workers: no leaked handle or mapping state between envs.
  const codes = await Promise.all(Array.from({ length: 8 }, () => run(`keep[0].unref();`)));
  t.same(codes, Array(8).fill(0));
  // Only workers load the addon here, so Node unloads it with the last one:
  // every libuv close callback must have run by then.
  const onlyWorkers = spawnSync(process.execPath, ['-e', `
    const { Worker } = require('node:worker_threads');
    const code = \`const { parentPort, workerData } = require('node:worker_threads');
      const addon = require(workerData.addonPath);
      ${setup}
      if (workerData.i % 3 === 1) keep[0].close();
      parentPort.postMessage('ready');
      if (workerData.i % 3 === 2) { keep[0].close(); process.exit(0); }\`;
    for (let i = 0; i < 12; i++) {
      const w = new Worker(code, { eval: true, workerData: { addonPath: ${JSON.stringify(addonPath)}, i } });
      w.on('message', () => w.terminate());
    }`], { encoding: 'utf8', timeout: 20_000 });
  t.equal(onlyWorkers.status, 0, `no crash when the addon is unloaded with its workers ${onlyWorkers.stderr}`);
  // The main thread's addon still works afterwards.
  const efd = n.eventfd(1, 0);
  t.equal(readU64(efd), 1n);
  n.close(efd);
});
