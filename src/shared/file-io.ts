/** VDUSE_BLK_IO: how a file backend does its reads and writes (src/workers/backends/index.ts). */
export type FileIo = 'auto' | 'uring' | 'threads' | 'sync';
const FILE_IO: readonly string[] = ['auto', 'uring', 'threads', 'sync'] satisfies FileIo[];

/** The mode `value` names ('auto' when unset or empty); a TypeError naming the choices otherwise. */
export function fileIoMode(value: string | undefined): FileIo {
  const mode = value === undefined || value === '' ? 'auto' : value;
  if (!FILE_IO.includes(mode)) throw new TypeError(`VDUSE_BLK_IO=${value}: expected ${FILE_IO.join(', ')}`);
  return mode as FileIo;
}
