/**
 * `ionflux` command line: one file per command under src/cli/, each thin (parse, call the library,
 * write files). Errors the user can fix become one line on stderr and exit code 1.
 */
import { Command, CommanderError } from 'commander';
import { UserError } from './errors';
import { OutputDirError } from '../io/output';
import { GpuUnavailableError } from '../gpu/device';
import { registerSimulate } from './simulate';
import { registerAnalyze } from './analyze';
import { registerBench } from './bench';

export async function main(argv: string[]): Promise<number> {
  const program = new Command('ionflux')
    .description('Simulate and image lithium transport in single cathode particles (WebGPU)')
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      // commander's own usage errors in the same one-line form as ours
      outputError: (s, write) => write(`ionflux: ${s.replace(/^error: /, '')}`),
    });
  registerSimulate(program);
  registerAnalyze(program);
  registerBench(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode; // commander already printed its message
    if (e instanceof UserError || e instanceof OutputDirError || e instanceof GpuUnavailableError) {
      process.stderr.write(`ionflux: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`ionflux: internal error: ${(e as Error).stack ?? e}\n`);
    return 2;
  }
}
