/**
 * `ionflux` command line: one file per command under src/cli/, each thin (parse, call the library,
 * write files). Every failure is one line on stderr, `ionflux: …`, with the exit code of src/errors.ts:
 * 1 bad input, 2 a fault of the environment (disk, permissions, a busy folder, no GPU), 3 a bug
 * (with its stack, so that it can be reported), 130 / 143 when stopped by SIGINT / SIGTERM.
 */
import { Command, CommanderError } from 'commander';
import { EnvironmentError, EXIT, describeFsError, isErrnoError, oneLine, UserError } from '../errors';
import { GpuUnavailableError } from '../gpu/device';
import { setThreadBundle } from '../threadBundle';
import { VERSION } from '../version';

/**
 * The commands in the order `--help` lists them, each module loaded only when needed: `ionflux
 * simulate …` loads (and compiles) the simulation's code only, not the analysis, fitting or bench
 * code (docs/performance.md, start-up). Vite makes each a chunk of its own.
 */
const COMMANDS: Record<string, () => Promise<(program: Command) => void>> = {
  simulate: async () => (await import('./simulate')).registerSimulate,
  analyze: async () => (await import('./analyze')).registerAnalyze,
  synth: async () => (await import('./synth')).registerSynth,
  compare: async () => (await import('./compare')).registerCompare,
  fit: async () => (await import('./fit')).registerFit,
  sweep: async () => (await import('./sweep')).registerSweep,
  bench: async () => (await import('./bench')).registerBench,
};

// Worker threads load this file (src/threadBundle.ts) and run one of these; each loads its chunk.
setThreadBundle(import.meta.url);
/** a CPU pool thread of `ionflux sweep` (src/sweep/execute.ts) */
export async function sweepWorkerMain(): Promise<void> {
  return (await import('../sweep/execute')).sweepWorkerMain();
}
/** a CPU pool thread of `ionflux fit` (src/fit/pool.ts) */
export async function fitWorkerMain(): Promise<void> {
  return (await import('../fit/pool')).fitWorkerMain();
}
/** a drift thread of `ionflux analyze` (src/imaging/driftService.ts) */
export async function driftWorkerMain(): Promise<void> {
  return (await import('../imaging/driftService')).driftWorkerMain();
}

/**
 * The commands that argv needs: the one it names (`ionflux simulate …`, `ionflux help simulate`),
 * none for `--version`, or all of them (`ionflux`, `--help`, a mistyped command, which commander answers with a
 * suggestion from the full list).
 */
export function commandsFor(argv: string[]): string[] {
  const first = argv[0] === 'help' ? argv[1] : argv[0];
  if (first === '-V' || first === '--version') return [];
  return first !== undefined && Object.hasOwn(COMMANDS, first) ? [first] : Object.keys(COMMANDS);
}

/** The exit code and the one line for an error thrown by a command. */
export function classifyError(e: unknown): { code: number; line: string } {
  if (e instanceof UserError) return { code: EXIT.badInput, line: oneLine(e.message) };
  if (e instanceof EnvironmentError || e instanceof GpuUnavailableError) return { code: EXIT.environment, line: oneLine(e.message) };
  if (isErrnoError(e)) return { code: EXIT.environment, line: oneLine(describeFsError(e)) };
  if (e instanceof RangeError && /Array buffer allocation failed|Invalid typed array length|allocation failed/i.test(e.message)) {
    return { code: EXIT.environment, line: oneLine(`out of memory: ${e.message} (use a coarser grid or a smaller movie, or a machine with more memory)`) };
  }
  const stack = e instanceof Error ? e.stack ?? e.message : String(e);
  return { code: EXIT.internal, line: `internal error (a bug in ionflux ${VERSION}; please report it with this text): ${stack}` };
}

/** commander's usage errors, with what a user most likely meant where that is clear */
function usageHint(message: string): string {
  // `analyze frames/*.tif`: the shell gave every frame as an argument
  if (/^too many arguments for 'analyze'/.test(message)) return `${message.replace(/\.$/, '')}: a movie is one argument — a TIFF stack, an HDF5 file, or a folder of frames (give the folder, not its files: the shell expands frames/*.tif into one argument per file)`;
  return message;
}

/**
 * Commander checks required options before unknown ones, so `simulate --ouT x` would say "required
 * option '--out <dir>' not specified" instead of naming the typo (and suggesting --out). Required
 * options are checked in a preAction hook instead, which runs after the unknown-option check.
 */
function unknownOptionsFirst(cmd: Command): void {
  const required = cmd.options.filter((o) => o.mandatory);
  if (required.length === 0) return;
  for (const o of required) o.mandatory = false;
  cmd.hook('preAction', (c) => {
    const missing = required.find((o) => c.getOptionValue(o.attributeName()) === undefined);
    if (missing) c.error(`required option '${missing.flags}' not specified`, { code: 'commander.missingMandatoryOptionValue' });
  });
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('ionflux')
    .description('Simulate and image lithium transport in single cathode particles (WebGPU)')
    .version(VERSION, '-V, --version', 'print the ionflux version')
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      // commander's own usage errors in the same one-line form as ours ("(Did you mean …?)" included)
      outputError: (s, write) => write(`ionflux: ${oneLine(usageHint(s.replace(/^error: /, '').trim()))}\n`),
    });
  try {
    for (const register of await Promise.all(commandsFor(argv).map((name) => COMMANDS[name]()))) register(program);
    program.commands.forEach(unknownOptionsFirst);
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode; // commander already printed its message (0 for --help/--version)
    const { code, line } = classifyError(e);
    process.stderr.write(`ionflux: ${line}\n`);
    return code;
  }
}
