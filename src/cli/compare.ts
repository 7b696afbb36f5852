/**
 * `ionflux compare --sim DIR|MOVIE --observed MOVIE [--particle ID] [--align auto|charge|time] --out DIR`
 * (SPEC §4, §7; docs/compare.md). Thin: reads both sides (a simulate folder or a movie; the observed
 * movie as analyze reads it), compares them (src/compare/compare.ts) and only then writes the folder
 * inside writeOutputDir, so that bad input leaves nothing written.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { UserError } from './errors';
import { number } from './analyze';
import { writeOutputDir } from '../io/output';
import { openMovie, type MovieSource } from '../io/movie';
import { readCapacityFile, type CapacityRecord } from '../io/capacity';
import { compareParticles, type AlignMode } from '../compare/compare';
import { readObservedParticle, type ObservedParticle } from '../compare/observed';
import { isSimulationFolder, loadSimulationFolder } from '../compare/simFolder';
import { simulatedFromFields, simulatedFromMovie, type SimulatedSide } from '../compare/simulated';
import { writeComparisonOutputs } from '../compare/output';

export function frameListOption(flag: string) {
  return (value: string): number[] => {
    const parts = value.split(',').map((s) => s.trim()).filter((s) => s);
    const out = parts.map(Number);
    if (!parts.length || out.some((v) => !Number.isInteger(v) || v < 0)) throw new InvalidArgumentError(`${flag} = '${value}' is not allowed: use comma-separated frame indices (0-based), e.g. 10,20,40`);
    return out;
  };
}

export function autoOrNumber(flag: string) {
  return (value: string): number | 'auto' => {
    if (value === 'auto') return 'auto';
    const v = Number(value);
    if (value.trim() === '' || !Number.isFinite(v)) throw new InvalidArgumentError(`${flag} = '${value}' is not allowed: use auto or a number`);
    return v;
  };
}

/**
 * The capacity record of a movie: `--capacity FILE`, else the capacity.csv that `synth` writes beside
 * its movie.tif (said on stderr), else none.
 */
export async function movieCapacity(moviePath: string, file: string | undefined, log: (l: string) => void, flag = '--capacity'): Promise<{ record: CapacityRecord | null; source: string | null }> {
  if (file) return { record: await readCapacityFile(file), source: file };
  // a movie file (synth's movie.tif): the capacity.csv beside it; a folder of frames gets none
  const full = path.resolve(moviePath);
  const beside = path.join(path.dirname(full), 'capacity.csv');
  if (!existsSync(full) || statSync(full).isDirectory() || !existsSync(beside)) return { record: null, source: null };
  log(`using ${path.relative('.', beside) || beside} beside ${moviePath} as its charge record (${flag} FILE to choose another)`);
  return { record: await readCapacityFile(beside), source: beside };
}

interface CompareCli {
  sim: string;
  observed: string;
  particle?: number;
  simParticle?: number;
  align: AlignMode;
  capacity?: string;
  simCapacity?: string;
  frames?: number[];
  rotation: number | 'auto';
  scale: number | 'auto';
  reference: number;
  pixelUm?: number;
  frameS?: number;
  threshold: number;
  drift: boolean;
  psfUm?: number;
  kappa?: number;
  lineAngle?: number;
  out: string;
  quiet?: boolean;
}

export async function compareCommand(o: CompareCli): Promise<void> {
  const log = (l: string) => { if (!o.quiet) process.stderr.write(`ionflux compare: ${l}\n`); };
  const warn = (m: string) => process.stderr.write(`ionflux: warning: ${m}\n`);
  const open: MovieSource[] = [];
  try {
    const obsCap = await movieCapacity(o.observed, o.capacity, log);
    const inputs = [{ flag: '--observed', path: o.observed }, { flag: '--sim', path: o.sim }, ...(obsCap.source ? [{ flag: '--capacity', path: obsCap.source }] : [])];
    // --out is checked (and locked) before the movies are read and aligned
    const { value: result } = await writeOutputDir(o.out, async (dir) => {
      const obsMovie = await openMovie(o.observed);
      open.push(obsMovie);
      const observed: ObservedParticle = await readObservedParticle(obsMovie, {
        particle: o.particle ?? null, reference: o.reference, pixel_um: o.pixelUm, frame_s: o.frameS,
        capacity: obsCap.record, capacitySource: obsCap.source ?? undefined, drift: o.drift, threshold: o.threshold, flag: '--observed', warn,
      });
      let sim: SimulatedSide;
      if (await isSimulationFolder(o.sim)) {
        const folder = await loadSimulationFolder(o.sim);
        sim = simulatedFromFields(folder.problem, folder.snapshots, { source: o.sim, psfSigma_um: o.psfUm, kappa: o.kappa, pixel_um: Math.min(folder.config.optics.pixel_um, observed.pixel_um) / 2 });
      } else {
        if (o.psfUm !== undefined || o.kappa !== undefined) throw new UserError(`--psf-um and --kappa apply to a simulate folder as --sim; ${o.sim} is a movie, whose frames are already images`);
        const simCap = await movieCapacity(o.sim, o.simCapacity, log, '--sim-capacity');
        const simMovie = await openMovie(o.sim).catch((e: unknown) => {
          if (e instanceof UserError) throw new UserError(`--sim ${o.sim} is neither a simulate folder (summary.json) nor a readable movie: ${e.message}`);
          throw e;
        });
        open.push(simMovie);
        const p = await readObservedParticle(simMovie, { particle: o.simParticle ?? null, capacity: simCap.record, capacitySource: simCap.source ?? undefined, drift: o.drift, threshold: o.threshold, flag: '--sim', warn });
        sim = simulatedFromMovie(p);
      }
      const result = compareParticles(observed, sim, {
        align: o.align, frames: o.frames ?? null,
        registration: { rotationDeg: o.rotation === 'auto' ? null : o.rotation, scale: o.scale === 'auto' ? null : o.scale },
      });
      for (const w of [...observed.warnings, ...result.warnings]) if (!observed.warnings.includes(w)) warn(w);
      await writeComparisonOutputs(dir, result, { lineAngleDeg: o.lineAngle ?? null });
      return { ...result, observedId: observed.id };
    }, { command: 'compare', inputs, estimatedBytes: 4 * 2 ** 20 });
    const m = result.medians, f = (v: number | null, d = 3) => (v === null ? '—' : v.toFixed(d));
    log(`particle ${result.observedId}, ${result.frames.length} frames by ${result.alignment.mode}; rotation ${result.registration.rotationDeg.toFixed(1)}°, scale ${result.registration.scale.toFixed(3)}; median r ${f(m.pearsonR)}, RMSE ${f(m.rmse, 4)}, COM-offset error ${f(m.comOffsetError_um)} µm → ${o.out}`);
  } finally {
    for (const m of open) await m.close();
  }
}

export function registerCompare(program: Command): void {
  program
    .command('compare')
    .description('simulated vs observed particle: registration, alignment by charge or time, per-frame metrics, montage, traces and kymographs (docs/compare.md)')
    .requiredOption('--sim <DIR|MOVIE>', 'a simulate output folder (summary.json + theta_XXXXs.npy) or a movie (e.g. a synth movie.tif)')
    .requiredOption('--observed <MOVIE>', 'the observed movie (TIFF, HDF5 or a folder of frames), read as analyze reads it')
    .requiredOption('--out <DIR>', 'output folder (written whole, or not at all)')
    .option('--particle <ID>', 'the observed particle, analyze\'s id (default: the only one)', number('--particle', { integer: true, min: 1 }))
    .option('--sim-particle <ID>', 'the particle of a movie given as --sim (default: the only one)', number('--sim-particle', { integer: true, min: 1 }))
    .addOption(new Option('--align <MODE>', 'match frames by charge passed, by time, or auto (charge when both sides have it)').choices(['auto', 'charge', 'time']).default('auto'))
    .option('--capacity <FILE>', 'charge record of the observed movie (time_s,capacity_mAh_g; default capacity.csv beside the movie, if any)')
    .option('--sim-capacity <FILE>', 'charge record of a movie given as --sim (default capacity.csv beside it)')
    .option('--frames <LIST>', 'observed frames to compare, e.g. 10,20,40 (each needs a snapshot; default every frame that has one)', frameListOption('--frames'))
    .option('--rotation <auto|DEG>', 'rotation of the simulated particle onto the observed one, degrees CCW', autoOrNumber('--rotation'), 'auto')
    .option('--scale <auto|X>', 'scale of the simulated particle onto the observed one', autoOrNumber('--scale'), 'auto')
    .option('--reference <N>', 'reference frame of the observed movie', number('--reference', { integer: true, min: 0 }), 0)
    .option('--pixel-um <X>', 'observed pixel size, µm (overrides the metadata)', number('--pixel-um', { positive: true }))
    .option('--frame-s <X>', 'observed frame interval, s (overrides the metadata)', number('--frame-s', { positive: true }))
    .option('--threshold <X>', 'ΔI/I0 below which a pixel is unreacted', number('--threshold'), 0.05)
    .option('--no-drift', 'skip drift correction of the movies')
    .option('--psf-um <X>', 'PSF σ for rendering a simulate folder (default its optics.psfSigma_um)', number('--psf-um', { min: 0 }))
    .option('--kappa <K>', 'κ for rendering a simulate folder (default its optics.kappa)', number('--kappa', { positive: true }))
    .option('--line-angle <DEG>', 'kymograph line, degrees CCW from +x (default: direction of the observed core\'s largest offset)', number('--line-angle'))
    .option('--quiet', 'no progress on stderr')
    .action(async (o) => compareCommand(o as CompareCli));
}
