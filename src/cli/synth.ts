/**
 * `ionflux synth --config FILE | --preset NAME [--set key.path=value …] [--backend auto|gpu|cpu] --out DIR`:
 * a simulation rendered through the optical forward model and a camera (SPEC §7, docs/synth.md).
 * Thin: reads the config (as simulate does), checks everything up front (configs, grids, the field of
 * view), then simulates, renders and writes movie.tif, capacity.csv and truth.json inside
 * writeOutputDir, so that a failure leaves nothing half-written.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { parseBackend, selectBackend, type Backend } from '../gpu/backend';
import { ConfigError } from '../model/config';
import { writeOutputDir } from '../io/output';
import { writeSynthOutputs } from '../io/synthOutput';
import { createSolver, SimulationLimitError } from '../solver';
import type { Problem } from '../solver/problem';
import { prepareSynth, synthesizeMovie, type PreparedSynth } from '../synth/movie';
import { UserError } from './errors';
import { createProgress } from './progress';
import { configOptions, loadRawConfig, oneLineConfigError, type SimulateOptions } from './simulate';

export type SynthOptions = Omit<SimulateOptions, 'thetaRange'>;

export async function synthCommand(opts: SynthOptions): Promise<void> {
  const { raw, source, baseDir } = await loadRawConfig(opts);
  let prepared: PreparedSynth;
  let backendRequest;
  try {
    backendRequest = parseBackend(opts.backend);
    prepared = await prepareSynth(raw, { baseDir, source });
  } catch (e) {
    // bad input (ConfigError and the other UserErrors) in one line; anything else is a bug (exit 3)
    if (e instanceof UserError) throw new UserError(oneLineConfigError(e.message));
    throw e;
  }
  const { scene, setup, problems } = prepared;
  const backend: Backend = await selectBackend(backendRequest);
  const log = (l: string) => { if (!opts.quiet) process.stderr.write(`ionflux synth: ${l}\n`); };
  log(`${source}, ${problems.length} particle${problems.length > 1 ? 's' : ''}, ${scene.width}×${scene.height} px at ${scene.pixel_um} µm, ${setup.times_s.length} frames every ${setup.synth.frame_s} s, backend ${backend.label}`);
  let gpuFailed = false;
  const solverFor = async (problem: Problem) => {
    if (backend.kind === 'gpu' && backend.gpu && !gpuFailed) {
      try {
        return await createSolver(problem, backend);
      } catch (e) {
        if (backendRequest !== 'auto') throw new UserError((e as Error).message);
        // auto: the adapter cannot take this grid; the CPU reference can
        gpuFailed = true;
        log(`GPU not usable for this grid (${(e as Error).message}); using the CPU reference`);
      }
    }
    return createSolver(problem, { kind: 'cpu', label: 'cpu' });
  };
  const progress = createProgress('synth', { quiet: opts.quiet });
  const inputs = [
    ...(opts.config ? [{ flag: '--config', path: opts.config }] : []),
    ...setup.particles.flatMap((p) => (p.config.particle.shape === 'mask' ? [{ flag: `${p.key === 'particle' ? '' : p.key + '.config.'}particle.file`, path: path.resolve(baseDir, p.config.particle.file) }] : [])),
  ];
  const estimatedBytes = setup.times_s.length * scene.width * scene.height * 2 + 64 * 1024 * (1 + problems.length);
  try {
    await writeOutputDir(opts.out, async (dir) => {
      const movie = await synthesizeMovie(prepared, {
        createSolver: solverFor,
        onProgress: (f, s) => progress.update(f, s),
      }).catch((e: unknown) => {
        // a current the particle cannot carry, a run too short for two frames: the input's fault
        if (e instanceof SimulationLimitError) { progress.done(e.stopReason); throw new UserError(e.message); }
        if (e instanceof ConfigError) { progress.done('refused'); throw new UserError(e.message); }
        throw e;
      });
      progress.done(`${movie.truth.frames} frames, ${movie.truth.particles.length} particle${movie.truth.particles.length > 1 ? 's' : ''}`);
      for (const w of movie.warnings) log(`warning: ${w}`);
      await writeSynthOutputs(dir, movie);
    }, { command: 'synth', inputs, estimatedBytes });
  } finally {
    backend.gpu?.device.destroy();
  }
  log(`wrote ${opts.out}`);
}

export function registerSynth(program: Command): void {
  configOptions(
    program.command('synth').description('render a simulation through the microscope (forward model, PSF, camera noise) and write movie.tif, capacity.csv and truth.json (docs/synth.md)'),
    'config file (JSON, docs/config.md; the synth section: docs/synth.md)', 'synth.frame_s=60',
  )
    .option('--quiet', 'no progress on stderr')
    .action(async (o) => synthCommand(o as SynthOptions));
}
