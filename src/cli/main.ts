/**
 * `ionflux` command line: one file per command under src/cli/, each thin (parse, call the library,
 * write files). Every failure is one line on stderr, `ionflux: …`, with the exit code of src/errors.ts:
 * 1 bad input, 2 a fault of the environment (disk, permissions, a busy folder, no GPU), 3 a bug
 * (with its stack, so that it can be reported), 130 / 143 when stopped by SIGINT / SIGTERM.
 */
import { Command, CommanderError } from 'commander';
import { EnvironmentError, EXIT, describeFsError, isErrnoError, oneLine, UserError } from '../errors';
import { GpuUnavailableError } from '../gpu/device';
import { VERSION } from '../version';
import { registerSimulate } from './simulate';
import { registerAnalyze } from './analyze';
import { registerBench } from './bench';
import { registerSweep } from './sweep';
import { registerSynth } from './synth';
import { registerCompare } from './compare';
import { registerFit } from './fit';

// a CPU pool thread of `ionflux sweep` loads this bundle and runs this (src/sweep/execute.ts)
export { sweepWorkerMain } from '../sweep/execute';
// … and a CPU pool thread of `ionflux fit` this (src/fit/pool.ts)
export { fitWorkerMain } from '../fit/pool';
// analyze's drift worker thread loads this bundle and runs this (src/imaging/driftService.ts)
export { driftWorkerMain } from '../imaging/driftService';

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

export async function main(argv: string[]): Promise<number> {
  const program = new Command('ionflux')
    .description('Simulate and image lithium transport in single cathode particles (WebGPU)')
    .version(VERSION, '-V, --version', 'print the ionflux version')
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      // commander's own usage errors in the same one-line form as ours ("(Did you mean …?)" included)
      outputError: (s, write) => write(`ionflux: ${oneLine(s.replace(/^error: /, '').trim())}\n`),
    });
  registerSimulate(program);
  registerAnalyze(program);
  registerSynth(program);
  registerCompare(program);
  registerFit(program);
  registerSweep(program);
  registerBench(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode; // commander already printed its message (0 for --help/--version)
    const { code, line } = classifyError(e);
    process.stderr.write(`ionflux: ${line}\n`);
    return code;
  }
}
