/**
 * Top-level dispatch: `vduse-blk [--help|--version] <command> ...`. Returns
 * what to do rather than doing it, so the entry point owns all I/O and exit
 * codes and this stays testable.
 */
import { parseServeArgs, scanFlags } from './args.js';
import type { ServeArgsDeps, ServeOptions } from './args.js';
import { HelpRequested, UsageError } from './errors.js';
import { serveHelp, topHelp, versionText } from './help.js';
import { packageVersion } from './version.js';

export type CliCommand =
  | { kind: 'help'; text: string }
  | { kind: 'version'; text: string }
  | { kind: 'serve'; options: ServeOptions };

const COMMAND_HELP: Record<string, () => string> = { serve: serveHelp };

const TOP_FLAGS = { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' } } as const;

/** `argv` is process.argv.slice(2). Throws UsageError (exit status 2). */
export function parseCommandLine(argv: string[], deps: ServeArgsDeps = {}): CliCommand {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError("missing command (try 'vduse-blk serve --help')");
  if (first === 'serve') {
    try {
      return { kind: 'serve', options: parseServeArgs(rest, deps) };
    } catch (err) {
      if (err instanceof HelpRequested) return { kind: 'help', text: serveHelp() };
      throw err;
    }
  }
  if (first === 'help') {
    const [topic, ...extra] = rest;
    if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
    if (topic === undefined) return { kind: 'help', text: topHelp() };
    const help = COMMAND_HELP[topic];
    if (help === undefined) throw new UsageError(`unknown command '${topic}'`);
    return { kind: 'help', text: help() };
  }
  if (first.startsWith('-')) {
    let flags: Map<string, string | true>;
    try {
      flags = scanFlags(argv, TOP_FLAGS, undefined);
    } catch (err) {
      if (err instanceof HelpRequested) return { kind: 'help', text: topHelp() };
      throw err;
    }
    // scanFlags rejects positionals, so only --version can be left here.
    if (flags.has('version')) return { kind: 'version', text: versionText(packageVersion()) };
  }
  throw new UsageError(`unknown command '${first}'`);
}
