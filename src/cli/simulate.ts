/**
 * `ionflux simulate --config FILE | --preset NAME [--set key.path=value …] [--backend auto|gpu|cpu] [--steps-per-dispatch K] --out DIR`
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { parseBackend, selectBackend } from '../gpu/backend';
import { applySet, presetConfig, PRESETS, resolveConfig } from '../model/config';
import { writeOutputDir } from '../io/output';
import { writeSimulationOutputs } from '../io/simulationOutput';
import { buildProblem, createSolver, runSimulation, SimulationLimitError } from '../solver';
import { estimatedSteps, type Problem } from '../solver/problem';
import { MAX_STEPS_PER_DISPATCH } from '../kernels/diffusionBlock';
import { errnoCause, isErrnoError, UserError } from './errors';
import { createProgress } from './progress';

export interface SimulateOptions {
  config?: string;
  preset?: string;
  set: string[];
  backend: string;
  out: string;
  quiet?: boolean;
  thetaRange?: [number, number];
  stepsPerDispatch?: number;
}

/** --steps-per-dispatch K: whole steps per GPU dispatch, 1 … MAX_STEPS_PER_DISPATCH */
export function parseStepsPerDispatch(value: string): number {
  const k = Number(value.trim());
  if (!/^\d+$/.test(value.trim()) || k < 1 || k > MAX_STEPS_PER_DISPATCH) {
    throw new InvalidArgumentError(`--steps-per-dispatch = '${value}' is not allowed: use a whole number from 1 to ${MAX_STEPS_PER_DISPATCH} (1: one step per dispatch; more: temporal blocking on the GPU)`);
  }
  return k;
}

/** --theta-range LO,HI: the θ colour range of the snapshot PNGs */
export function parseThetaRange(value: string): [number, number] {
  const parts = value.split(',').map((s) => s.trim());
  const v = parts.map((s) => (s === '' ? NaN : Number(s)));
  if (v.length !== 2 || v.some((x) => !Number.isFinite(x) || x < 0 || x > 1) || !(v[0] < v[1])) {
    throw new InvalidArgumentError(`--theta-range = '${value}' is not allowed: use LO,HI with 0 ≤ LO < HI ≤ 1 (θ, Li site occupancy), e.g. 0.5,1`);
  }
  return [v[0], v[1]];
}

/**
 * A config error's lines as one: the first, then up to three more (the first alone can name a key
 * the user did not get wrong), without repeating their common source prefix.
 */
export function oneLineConfigError(message: string): string {
  const lines = message.split('\n');
  const source = lines[0].match(/^([^:]+): /)?.[1];
  const rest = lines.slice(1, 4).map((l) => (source && l.startsWith(`${source}: `) ? l.slice(source.length + 2) : l));
  return [lines[0], ...rest].join('; ') + (lines.length > 4 ? `; and ${lines.length - 4} more` : '');
}

/** Reads --config / --preset and the --set overrides into a raw config object. */
export async function loadRawConfig(opts: { config?: string; preset?: string; set?: string[] }): Promise<{ raw: Record<string, unknown>; source: string; baseDir: string }> {
  if (opts.config && opts.preset) throw new UserError('give either --config FILE or --preset NAME, not both');
  if (!opts.config && !opts.preset) throw new UserError(`give --config FILE or --preset NAME (presets: ${Object.keys(PRESETS).join(', ')})`);
  let raw: Record<string, unknown>;
  let source: string;
  let baseDir = process.cwd();
  if (opts.config) {
    source = opts.config;
    baseDir = path.dirname(path.resolve(opts.config));
    let text: string;
    try {
      text = await readFile(opts.config, 'utf8');
    } catch (e) {
      throw new UserError(`--config '${opts.config}' could not be read: ${isErrnoError(e) ? errnoCause(e) : (e as Error).message}`);
    }
    try {
      raw = JSON.parse(text.replace(/^\uFEFF/, '')); // a byte-order mark (Windows editors) is not an error
    } catch (e) {
      throw new UserError(`--config '${opts.config}' is not valid JSON: ${(e as Error).message}`);
    }
  } else {
    source = `preset ${opts.preset}`;
    try { raw = presetConfig(opts.preset as string); } catch (e) { throw new UserError((e as Error).message); }
  }
  try {
    for (const s of opts.set ?? []) applySet(raw, s);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  return { raw, source, baseDir };
}

export async function simulateCommand(opts: SimulateOptions): Promise<void> {
  const { raw, source, baseDir } = await loadRawConfig(opts);
  let backendRequest;
  let config;
  try {
    backendRequest = parseBackend(opts.backend);
    config = resolveConfig(raw, source);
  } catch (e) {
    throw new UserError(oneLineConfigError((e as Error).message));
  }
  // bad input is a ConfigError (a UserError: exit 1); anything else from here is a bug (exit 3)
  const problem = await buildProblem(config, { baseDir });
  const backend = await selectBackend(backendRequest);
  if (!opts.quiet) process.stderr.write(`ionflux simulate: ${source}, ${problem.grid.nx}×${problem.grid.ny} grid (${problem.grid.cells} cells), backend ${backend.label}\n`);
  if (!opts.quiet && (opts.stepsPerDispatch ?? 1) > 1 && backend.kind !== 'gpu') process.stderr.write(`ionflux simulate: --steps-per-dispatch ${opts.stepsPerDispatch} applies to the GPU solver only; the CPU reference steps as always\n`);
  const work = estimatedSteps(problem) * problem.grid.cells;
  if (work > 1e11) {
    process.stderr.write(`ionflux simulate: warning: this run needs about ${work.toExponential(1)} cell-updates (${estimatedSteps(problem).toExponential(1)} steps of ${problem.grid.cells} cells): hours on a CPU; a coarser grid.spacing_um or a GPU shortens it (Ctrl-C stops it cleanly)\n`);
  }
  let solver;
  try {
    solver = await createSolver(problem, backend, { stepsPerDispatch: opts.stepsPerDispatch });
  } catch (e) {
    backend.gpu?.device.destroy();
    if (backendRequest !== 'auto' || backend.kind !== 'gpu') throw new UserError((e as Error).message);
    // auto: the adapter cannot take this grid; the CPU reference can
    process.stderr.write(`ionflux simulate: GPU not usable for this grid (${(e as Error).message}); using the CPU reference\n`);
    solver = await createSolver(problem, { kind: 'cpu', label: 'cpu' });
    backend.gpu = undefined;
  }
  const runName = opts.preset ?? path.basename(opts.config ?? 'run').replace(/\.json$/i, '');
  const progress = createProgress('simulate', { quiet: opts.quiet });
  const inputs = [
    ...(opts.config ? [{ flag: '--config', path: opts.config }] : []),
    ...(config.particle.shape === 'mask' ? [{ flag: 'particle.file', path: path.resolve(baseDir, config.particle.file) }] : []),
  ];
  try {
    await writeOutputDir(opts.out, async (dir) => {
      // a current the particle cannot carry is the input's fault: one line, exit 1 (docs/physics.md)
      const result = await runSimulation(problem, solver, { onProgress: (f, s) => progress.update(f, s) }).catch((e: unknown) => {
        if (e instanceof SimulationLimitError) { progress.done(e.stopReason); throw new UserError(e.message); }
        throw e;
      });
      progress.done(`${result.stopReason} at ${(result.time_s / 60).toFixed(2)} min, ${result.extractedCapacity_mAh_g.toFixed(2)} mAh/g`);
      for (const w of result.warnings) process.stderr.write(`ionflux simulate: warning: ${w}\n`);
      const note = solver.threadNote;
      if (note && !opts.quiet) process.stderr.write(`ionflux simulate: ${note}\n`);
      await writeSimulationOutputs(dir, problem, result, solver.backend, { runName, thetaRange: opts.thetaRange });
    }, { command: 'simulate', inputs, estimatedBytes: estimateOutputBytes(problem) });
  } finally {
    solver.destroy();
    backend.gpu?.device.destroy();
  }
  if (!opts.quiet) process.stderr.write(`ionflux simulate: wrote ${opts.out}\n`);
}

/** About what simulate writes: per snapshot a float32 field and an RGB picture, plus the trace. */
function estimateOutputBytes(problem: Problem): number {
  const cfg = problem.config;
  const snapshots = cfg.snapshots_min.length + 1;
  const total_s = cfg.protocol.reduce((a, st) => a + st.duration_min * 60, 0);
  return snapshots * problem.grid.cells * (4 + 4) + (total_s / cfg.output.traceInterval_s + 1) * 120 + 64 * 1024;
}

/** The options of a command that runs a config (simulate, synth): where it comes from, the backend, --out. */
export function configOptions(command: Command, configHelp: string, setExample: string): Command {
  return command
    .option('--config <file>', configHelp)
    .option('--preset <name>', `built-in config: ${Object.keys(PRESETS).join(', ')}`)
    .option('--set <key.path=value>', `override a config value (repeatable), e.g. --set ${setExample}`, (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--backend <backend>', 'auto (a real GPU, else the CPU reference), gpu (any WebGPU adapter, software ones too), or cpu', 'auto')
    .requiredOption('--out <dir>', 'output folder (written whole, or not at all)');
}

export function registerSimulate(program: Command): void {
  configOptions(
    program.command('simulate').description('simulate Li diffusion in one particle (docs/physics.md) and write summary.json, trace.csv, fields and images'),
    'config file (JSON, docs/config.md)', 'grid.spacing_um=0.01',
  )
    .option('--theta-range <LO,HI>', 'θ colour range of the PNGs (default: θ0 − 2·Δθ of the protocol … θ0, the same for runs of one protocol)', parseThetaRange)
    .option('--steps-per-dispatch <k>', `GPU only: whole steps per dispatch, 1 (default) to ${MAX_STEPS_PER_DISPATCH}; above 1, temporal blocking in workgroup memory (the same results; pays where memory bandwidth bounds a step: docs/performance.md)`, parseStepsPerDispatch)
    .option('--quiet', 'no progress on stderr')
    .action(async (o) => simulateCommand(o as SimulateOptions));
}
