/**
 * Errors in how the command was invoked. The entry point prints these
 * without a stack trace and exits with status 2, the usual convention for
 * usage errors (getopt, coreutils), so scripts can tell them from runtime
 * failures (status 1).
 */
export class UsageError extends Error {
  readonly exitCode = 2;
  /** The subcommand whose help the user should read, or undefined for the top level. */
  readonly command: string | undefined;

  constructor(message: string, command?: string) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

/** Two lines for stderr: what was wrong, and where to read about it. */
export function formatUsageError(err: UsageError): string {
  const prog = err.command === undefined ? 'vduse-blk' : `vduse-blk ${err.command}`;
  return `${prog}: ${err.message}\nRun '${prog} --help' for usage.\n`;
}

/**
 * Thrown by parseServeArgs when -h/--help is present, whatever else is on the
 * line: asking for help should never fail on the other arguments. Not an
 * error for the user; exit status 0 after printing the help.
 */
export class HelpRequested extends Error {
  readonly exitCode = 0;
  readonly command: string | undefined;

  constructor(command?: string) {
    super(command === undefined ? 'help requested' : `help requested for '${command}'`);
    this.name = 'HelpRequested';
    this.command = command;
  }
}
