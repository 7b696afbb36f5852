/**
 * `ionflux fit --observed MOVIE [--capacity FILE] [--particle ID] [--model arc|bins:N] [--fit-diffusivity] [--kappa K] --out DIR`
 * (SPEC §4, §7; docs/compare.md). Thin: reads the observed particle (as analyze does), fits its
 * surface blocking (src/fit/fit.ts) with each generation as one batch (GpuBatch lanes on a GPU, the
 * CPU reference otherwise), then writes fit.json, cost.csv, evaluations.csv, overlay.png and
 * compare/ inside writeOutputDir. The evaluated candidates go to DIR.fit-journal.jsonl as they are
 * known: the same command after a Ctrl-C or a kill resumes from it.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { UserError } from './errors';
import { number } from './analyze';
import { frameListOption, movieCapacity } from './compare';
import { createProgress } from './progress';
import { parseBackend, selectBackend, type Backend } from '../gpu/backend';
import { GpuUnavailableError } from '../gpu/device';
import { openMovie } from '../io/movie';
import { writeOutputDir } from '../io/output';
import { readObservedParticle } from '../compare/observed';
import { cpuBatchRunner, gpuBatchRunner } from '../fit/batch';
import { cpuPoolBatchRunner, fitPoolAvailable, type PoolBatchRunner } from '../fit/pool';
import { defaultJobs } from '../sweep/execute';
import { fitSurface } from '../fit/fit';
import { parseFitModel } from '../fit/params';
import { bestFitComparison, fileJournal, writeFitOutputs } from '../fit/output';
import { VERSION } from '../version';

interface FitCli {
  observed: string;
  capacity?: string;
  particle?: number;
  model: string;
  fitDiffusivity?: boolean;
  kappa?: number;
  psfUm?: number;
  theta0?: number;
  currentMAG?: number;
  gridUm?: number;
  fitFrames: number;
  frames?: number[];
  comWeight: number;
  smoothness: number;
  generations?: number;
  population?: number;
  seed: number;
  reference: number;
  pixelUm?: number;
  frameS?: number;
  threshold: number;
  drift: boolean;
  backend: string;
  out: string;
  quiet?: boolean;
}

export async function fitCommand(o: FitCli): Promise<void> {
  const log = (l: string) => { if (!o.quiet) process.stderr.write(`ionflux fit: ${l}\n`); };
  const warn = (m: string) => process.stderr.write(`ionflux: warning: ${m}\n`);
  let request;
  try {
    request = parseBackend(o.backend);
    parseFitModel(o.model);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const cap = await movieCapacity(o.observed, o.capacity, log);
  const movie = await openMovie(o.observed);
  // set inside writeOutputDir's callback, cleaned up here
  const held: { backend?: Backend; pool?: PoolBatchRunner; journal?: ReturnType<typeof fileJournal> } = {};
  const inputs = [{ flag: '--observed', path: o.observed }, ...(cap.source ? [{ flag: '--capacity', path: cap.source }] : [])];
  const journalFile = `${path.resolve(o.out)}.fit-journal.jsonl`;
  try {
    // --out is checked (and locked) before the first simulation; the fit runs inside, and Ctrl-C
    // says where the simulations done so far are kept
    const { value: result } = await writeOutputDir(o.out, async (dir) => {
      const observed = await readObservedParticle(movie, {
        particle: o.particle ?? null, reference: o.reference, pixel_um: o.pixelUm, frame_s: o.frameS,
        capacity: cap.record, capacitySource: cap.source ?? undefined, drift: o.drift, threshold: o.threshold, warn,
      });
      try {
        held.backend = await selectBackend(request);
      } catch (e) {
        if (e instanceof GpuUnavailableError) throw new UserError(`--backend ${request}: ${e.message} (use --backend auto or cpu)`);
        throw e;
      }
      // a generation as one batch: lanes of one GpuBatch, or the candidates over the CPU pool's threads
      const backend = held.backend;
      const runner = backend.kind === 'gpu' && backend.gpu ? gpuBatchRunner(backend.gpu) : fitPoolAvailable() && defaultJobs() > 1 ? (held.pool = cpuPoolBatchRunner()) : cpuBatchRunner();
      const settings = {
        movie: path.resolve(o.observed), particle: observed.id, capacity: cap.source, model: o.model, fitDiffusivity: !!o.fitDiffusivity, kappa: o.kappa ?? null,
        psf: o.psfUm ?? null, theta0: o.theta0 ?? null, current: o.currentMAG ?? null, grid: o.gridUm ?? null, fitFrames: o.fitFrames, frames: o.frames ?? null,
        comWeight: o.comWeight, smoothness: o.smoothness, generations: o.generations ?? null, population: o.population ?? null, seed: o.seed,
        reference: o.reference, pixel: o.pixelUm ?? null, frameS: o.frameS ?? null, threshold: o.threshold, drift: o.drift, version: VERSION,
        // how the protocol comes from the charge record (fit.ts protocolOfRecord): a journal of another rule is not resumed
        protocolRule: 'record-steps-2026-12-03',
      };
      const fitKey = createHash('sha256').update(JSON.stringify(settings)).digest('hex').slice(0, 16);
      const journal = (held.journal = fileJournal(o.out, fitKey, log, warn));
      log(`particle ${observed.id} of ${o.observed} (${observed.particle.area_px} px, R_eq ${observed.particle.eqRadius_um.toFixed(2)} µm), model ${o.model}, ${runner.label}`);
      const progress = createProgress('fit', { quiet: o.quiet });
      const result = await fitSurface(observed, {
        model: o.model, fitDiffusivity: o.fitDiffusivity, kappa: o.kappa ?? null, psfSigma_um: o.psfUm, theta0: o.theta0,
        current_mA_g: o.currentMAG ?? null, grid_um: o.gridUm ?? null, fitFrames: o.fitFrames, frames: o.frames ?? null,
        comWeight: o.comWeight, smoothness: o.smoothness, generations: o.generations, population: o.population, seed: o.seed,
        runner, journal, warn, onProgress: (f, s) => progress.update(f, s),
      });
      progress.done(`${result.simulations} simulations`);
      const comparison = await bestFitComparison(result, observed, runner);
      await writeFitOutputs(dir, result, observed, comparison, { movie: o.observed, capacity: cap.source });
      return result;
    }, {
      command: 'fit', inputs, estimatedBytes: 8 * 2 ** 20,
      stopNote: () => (existsSync(journalFile) ? `the fit's finished simulations are kept in '${journalFile}': the same command resumes from them` : undefined),
    });
    held.journal?.remove(); // the result is in place: nothing left to resume
    const b = result.parameterisation.report(result.best.values) as Record<string, number | number[]>;
    const show = result.model === 'arc'
      ? `centre ${(b.centerDeg as number).toFixed(1)}° [${result.intervals.centerDeg.lo.toFixed(0)}, ${result.intervals.centerDeg.hi.toFixed(0)}], span ${(b.spanDeg as number).toFixed(0)}° [${result.intervals.spanDeg.lo.toFixed(0)}, ${result.intervals.spanDeg.hi.toFixed(0)}], η ${(b.eta as number).toFixed(2)} [${result.intervals.eta.lo.toFixed(2)}, ${result.intervals.eta.hi.toFixed(2)}]`
      : `η per bin ${(b.eta as number[]).map((v) => v.toFixed(2)).join(' ')}`;
    log(`${show}; κ ${result.best.kappa.toFixed(3)}; ${result.simulations} simulations (${result.simulationsRun} run now), ${result.wallTime_s.toFixed(1)} s → ${o.out}`);
  } finally {
    await held.pool?.close();
    await movie.close();
    held.backend?.gpu?.device.destroy();
  }
}

export function registerFit(program: Command): void {
  program
    .command('fit')
    .description('infer where and how strongly an observed particle\'s surface is blocked: simulations on its own outline fitted to its ΔI/I0 movie (docs/compare.md)')
    .requiredOption('--observed <MOVIE>', 'the observed movie (TIFF, HDF5 or a folder of frames)')
    .requiredOption('--out <DIR>', 'output folder (written whole, or not at all); DIR.fit-journal.jsonl beside it while the fit runs (resume)')
    .option('--capacity <FILE>', 'charge record (time_s,capacity_mAh_g): the current (default capacity.csv beside the movie, if any)')
    .option('--particle <ID>', 'the particle, analyze\'s id (default: the only one)', number('--particle', { integer: true, min: 1 }))
    .option('--model <MODEL>', 'arc (centre, span, η of one blocked arc) or bins:N (η in N angular bins, smoothness-penalised)', 'arc')
    .option('--fit-diffusivity', 'also fit a scale of the (knee) diffusivity')
    .option('--kappa <K>', 'κ of the forward model (default: fitted by least squares for each candidate)', number('--kappa', { positive: true }))
    .option('--psf-um <X>', 'PSF σ of the microscope, µm', number('--psf-um', { min: 0 }))
    .option('--theta0 <X>', 'θ at the reference frame', number('--theta0', { positive: true }))
    .option('--current-mA-g <X>', "one constant charge at this current, mA/g (default: the charge record's own steps, or its slope when it is one charge)", number('--current-mA-g', { positive: true }))
    .option('--grid-um <X>', 'simulation grid spacing, µm (default R_eq/20)', number('--grid-um', { positive: true }))
    .option('--fit-frames <N>', 'frames fitted, evenly spaced after the reference', number('--fit-frames', { integer: true, min: 1 }), 6)
    .option('--frames <LIST>', 'the frames to fit instead, e.g. 5,10,20', frameListOption('--frames'))
    .option('--com-weight <W>', 'weight of the COM-trajectory term of the cost', number('--com-weight', { min: 0 }), 1)
    .option('--smoothness <L>', 'weight of the bins\' smoothness penalty', number('--smoothness', { min: 0 }), 1)
    .option('--generations <N>', 'CMA-ES generations at most (default 40; it stops earlier after 8 without gain)', number('--generations', { integer: true, min: 1 }))
    .option('--population <N>', 'candidates per generation (one batch; default 4 + 3 ln n)', number('--population', { integer: true, min: 2 }))
    .option('--seed <N>', 'optimiser seed', number('--seed', { integer: true, min: 0 }), 1)
    .option('--reference <N>', 'reference frame', number('--reference', { integer: true, min: 0 }), 0)
    .option('--pixel-um <X>', 'pixel size, µm (overrides the metadata)', number('--pixel-um', { positive: true }))
    .option('--frame-s <X>', 'frame interval, s (overrides the metadata)', number('--frame-s', { positive: true }))
    .option('--threshold <X>', 'ΔI/I0 below which a pixel is unreacted', number('--threshold'), 0.05)
    .option('--no-drift', 'skip drift correction')
    .option('--backend <KIND>', 'auto | gpu | cpu (gpu: each generation one GpuBatch)', 'auto')
    .option('--quiet', 'no progress on stderr')
    .action(async (o) => fitCommand(o as FitCli));
}
