/** openBackend: the three descriptor kinds, and plugging in a backend module. */
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { openBackend, validateBackend, type BackendDescriptor } from '../../src/workers/backends/index.js';
import { FileBackend } from '../../src/workers/backends/file.js';
import { MemoryBackend } from '../../src/workers/backends/memory.js';
import { UringFileBackend } from '../../src/workers/backends/uring-file.js';

const context = { queueIndex: 3 };

// A directory name with characters that mean something in URLs.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vduse blk #mods%20?-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

function moduleFile(name: string, source: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, source);
  return file;
}

const GOOD = `
export function createBackend(options, context) {
  const disk = new Uint8Array(options.size);
  return {
    size: options.size, context, options,
    readv(offset, bufs) { for (const b of bufs) { b.set(disk.subarray(offset, offset + b.length)); offset += b.length; } },
    writev(offset, bufs) { for (const b of bufs) { disk.set(b, offset); offset += b.length; } },
    flush() {}, discard() {}, writeZeroes() {}, close() {},
  };
}
export async function makeLater(options, context) { return createBackend(options, context); }
export const notAFunction = 1;
`;

t.test('memory and file descriptors', async (t) => {
  const buffer = new SharedArrayBuffer(4096);
  const memory = await openBackend({ kind: 'memory', buffer }, context);
  t.type(memory, MemoryBackend);
  t.equal(memory.size, 4096);
  const fd = fs.openSync(moduleFile('disk.img', 'x'.repeat(512)), 'r');
  t.teardown(() => fs.closeSync(fd));
  const file = await openBackend({ kind: 'file', fd, size: 512, readOnly: true }, context);
  // io_uring where the kernel allows it, else the thread pool (backend-uring.test.ts covers the choice).
  t.ok(file instanceof FileBackend || file instanceof UringFileBackend, 'a file backend');
  t.equal((file as FileBackend | UringFileBackend).readOnly, true);
  t.equal((file as FileBackend | UringFileBackend).fd, fd);
  await file.close();
  await t.rejects(openBackend({ kind: 'nbd' } as unknown as BackendDescriptor, context), TypeError);
});

t.test('a module backend: factory called with (options, context), by path or URL', async (t) => {
  const file = moduleFile('good.mjs', GOOD);
  const options = { size: 8192, label: 'x' };
  const specifiers = [file, pathToFileURL(file).href, path.relative(process.cwd(), file).replace(/^(?!\.)/, './')];
  for (const specifier of specifiers) {
    const backend = await openBackend({ kind: 'module', specifier, options }, context) as unknown as Record<string, unknown>;
    t.equal(backend['size'], 8192, specifier);
    t.same(backend['context'], context);
    t.same(backend['options'], options);
  }
  const later = await openBackend({ kind: 'module', specifier: file, exportName: 'makeLater', options }, context);
  await later.writev(512, [new Uint8Array([1, 2, 3])]);
  const out = new Uint8Array(4);
  await later.readv(511, [out]);
  t.same([...out], [0, 1, 2, 3], 'an async factory, chosen by exportName');
});

t.test('clear errors for a module without the factory or with a bad backend', async (t) => {
  const file = moduleFile('nofactory.mjs', 'export const x = 1; export default function createBackend() {}\n');
  await t.rejects(openBackend({ kind: 'module', specifier: file }, context),
    { name: 'TypeError', message: /does not export a function "createBackend" \(exports: default, x\)/ });
  const good = moduleFile('good2.mjs', GOOD);
  await t.rejects(openBackend({ kind: 'module', specifier: good, exportName: 'notAFunction' }, context),
    /does not export a function "notAFunction"/);
  const bad = moduleFile('bad.mjs', 'export function createBackend() { return { size: -1, readv() {}, close: 1 }; }\n');
  await t.rejects(openBackend({ kind: 'module', specifier: bad }, context), {
    message: /not a BlockBackend: no writev\(\) method; no flush\(\) method; no discard\(\) method; no writeZeroes\(\) method; no close\(\) method; size -1/,
  });
  const nothing = moduleFile('nothing.mjs', 'export function createBackend() { return null; }\n');
  await t.rejects(openBackend({ kind: 'module', specifier: nothing }, context), /returned null, not a backend object/);
  await t.rejects(openBackend({ kind: 'module', specifier: path.join(dir, 'missing.mjs') }, context), /Cannot find module .*missing\.mjs/);
  const throws = moduleFile('throws.mjs', 'export function createBackend() { throw new Error("no disk today"); }\n');
  await t.rejects(openBackend({ kind: 'module', specifier: throws }, context), /no disk today/);
});

t.test('validateBackend accepts any object with the methods and a size', async (t) => {
  const ok = { size: 1000, readv() {}, writev() {}, flush() {}, discard() {}, writeZeroes() {}, close() {} };
  t.equal(validateBackend(ok, 'test'), ok);
  t.throws(() => validateBackend({ ...ok, size: 1.5 }, 'test'), /size 1.5/);
  t.throws(() => validateBackend({ ...ok, size: '512' }, 'test'), /size 512/);
  t.throws(() => validateBackend(42, 'test'), /returned number/);
});
