/**
 * Byte sizes on the command line: a decimal count with an optional binary
 * unit, K, M, G or T (case-insensitive). Nothing fancier (no fractions, no
 * "GiB", no SI units): the value has to land exactly on a block boundary
 * anyway, and an exact grammar leaves no doubt about what was meant.
 */

const UNITS = ['', 'K', 'M', 'G', 'T'] as const;

/** Bytes must stay exact in a JS number: fs offsets and the capacity arithmetic use numbers. */
export const MAX_SIZE = Number.MAX_SAFE_INTEGER;

/** Parses "N", "NK", "NM", "NG" or "NT" into bytes (> 0). Throws Error with a message meant for users. */
export function parseSize(text: string): number {
  const m = /^([0-9]+)([KMGT]?)$/i.exec(text);
  if (m === null) {
    throw new Error(`invalid size '${text}' (expected a whole number with an optional unit K, M, G or T, e.g. 512, 64M, 10G)`);
  }
  const digits = m[1] ?? '';
  const unit = (m[2] ?? '').toUpperCase();
  // BigInt so that an absurd input is reported as too large instead of rounding silently.
  const bytes = BigInt(digits) << BigInt(10 * UNITS.indexOf(unit as (typeof UNITS)[number]));
  if (bytes === 0n) throw new Error(`size must be greater than 0, got '${text}'`);
  if (bytes > BigInt(MAX_SIZE)) {
    throw new Error(`size '${text}' is too large (at most ${MAX_SIZE} bytes, 2^53 - 1)`);
  }
  return Number(bytes);
}

/**
 * The shortest string parseSize reads back as exactly `bytes`: the largest
 * unit that divides it, so 10737418240 → "10G" and 1536 → "1536".
 */
export function formatSize(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`not a byte count: ${bytes}`);
  if (bytes === 0) return '0';
  for (let i = UNITS.length - 1; i > 0; i--) {
    const scale = 2 ** (10 * i);
    if (bytes % scale === 0) return `${bytes / scale}${UNITS[i]}`;
  }
  return String(bytes);
}
