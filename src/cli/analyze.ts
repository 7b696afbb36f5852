/**
 * `ionflux analyze MOVIE --out DIR`: the paper's single-particle analysis of an operando movie
 * (SPEC §4, §6). Thin: parses options, opens the inputs, picks the backend, and runs
 * src/imaging/analyze.ts inside writeOutputDir so that a failure leaves nothing half-written.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { UserError } from './errors';
import { createProgress } from './progress';
import { writeOutputDir } from '../io/output';
import { openMovie, readImage } from '../io/movie';
import { readCapacityFile } from '../io/capacity';
import { parseBackend, selectBackend, type Backend } from '../gpu/backend';
import { GpuUnavailableError } from '../gpu/device';
import { analyzeMovie, type AnalyzeOptions } from '../imaging/analyze';
import { createCpuProcessor, createGpuProcessor } from '../imaging/processor';
import type { FrameProcessorOptions } from '../imaging/processor';

export function number(name: string, opts: { min?: number; max?: number; integer?: boolean; positive?: boolean; hint?: string } = {}) {
  return (value: string): number => {
    const v = Number(value);
    const bad = value.trim() === '' || !Number.isFinite(v) || (opts.integer && !Number.isInteger(v)) ||
      (opts.min !== undefined && v < opts.min) || (opts.max !== undefined && v > opts.max) || (opts.positive && !(v > 0));
    if (bad) {
      const range = opts.min !== undefined && opts.max !== undefined ? `from ${opts.min} to ${opts.max}` : opts.min !== undefined ? `≥ ${opts.min}` : opts.max !== undefined ? `≤ ${opts.max}` : '';
      const what = [opts.integer ? 'an integer' : 'a number', opts.positive ? '> 0' : '', range].filter((s) => s).join(' ');
      throw new InvalidArgumentError(`${name} = '${value}' is not allowed: use ${what}${opts.hint ? ` (${opts.hint})` : ''}`);
    }
    return v;
  };
}

function frameList(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim()).filter((s) => s);
  const out = parts.map(Number);
  if (!parts.length || out.some((v) => !Number.isInteger(v) || v < 0)) {
    throw new InvalidArgumentError(`--montage-frames = '${value}' is not allowed: use comma-separated frame indices (0-based), e.g. 0,10,20`);
  }
  return out;
}

function window(value: string): [number, number] {
  const parts = value.split(',').map((s) => Number(s.trim()));
  if (parts.length !== 2 || parts.some((v) => !Number.isFinite(v) || v < 0 || v > 1) || !(parts[0] < parts[1])) {
    throw new InvalidArgumentError(`--asym-window = '${value}' is not allowed: use LO,HI with 0 ≤ LO < HI ≤ 1 (unreacted fractions), e.g. 0.2,0.9`);
  }
  return [parts[0], parts[1]];
}

interface CliOptions {
  out: string;
  reference: number;
  pixelUm?: number;
  frameS?: number;
  dataset?: string;
  channel?: number;
  timeOffsetS?: number;
  capacity?: string;
  mask?: string;
  threshold: number;
  asymThreshold: number;
  asymWindow: [number, number];
  minAreaPx: number;
  connectivity: string;
  keepBorder?: boolean;
  segSigmaPx: number;
  segThreshold?: number;
  drift: boolean;
  maxDriftPx?: number;
  minDriftPx?: number;
  driftThreads?: number;
  smoothPx: number;
  lineAngle?: number;
  kymoAxis: 'auto' | 'time' | 'capacity';
  montageFrames?: number[];
  diffRange?: number;
  batch: number;
  diffStack: 'full' | 'particles';
  backend: string;
  quiet?: boolean;
}

export function registerAnalyze(program: Command): void {
  program
    .command('analyze')
    .description('single-particle analysis of an operando movie: ΔI/I0 maps, drift correction, particles, COM offset, kymographs, symmetric/asymmetric labels')
    .argument('<MOVIE>', 'multi-page TIFF (8/16-bit or float32, ImageJ, OME-TIFF, BigTIFF), an HDF5 file (3-D dataset) or a folder of PNG/TIFF frames')
    .requiredOption('--out <DIR>', 'output folder (written whole or not at all)')
    .option('--reference <N>', 'reference frame I0, 0-based', number('--reference', { integer: true, min: 0 }), 0)
    .option('--pixel-um <X>', 'pixel size in µm (overrides OME-XML, ImageJ, TIFF and HDF5 metadata)', number('--pixel-um', { positive: true }))
    .option('--frame-s <X>', 'frame interval in s (overrides OME TimeIncrement, ImageJ finterval, HDF5 attributes)', number('--frame-s', { positive: true }))
    .option('--dataset <PATH>', 'HDF5 movie: the 3-D dataset (frames, rows, cols) (default /movie, else the only 3-D dataset)')
    .option('--channel <N>', 'multi-channel TIFF (RGB samples, OME SizeC, ImageJ channels): the channel to read, 0-based', number('--channel', { integer: true, min: 0 }))
    .option('--time-offset-s <X>', "time of frame 0 on the capacity file's clock, s", number('--time-offset-s'))
    .option('--capacity <FILE>', 'CSV with time_s,capacity_mAh_g[,voltage_V]: charge passed on every axis')
    .option('--mask <FILE>', 'particle mask or label image (PNG/TIFF, nonzero or label values) instead of Otsu segmentation')
    .option('--threshold <X>', 'ΔI/I0 below which a particle pixel is unreacted (a fraction: 0.05 = 5 %)', number('--threshold', { min: -1, max: 1, hint: 'ΔI/I0 is a fraction of I0: 0.05 is 5 %' }), 0.05)
    .option('--asym-threshold <X>', 'd/R_eq above which a particle is asymmetric', number('--asym-threshold', { min: 0 }), 0.15)
    .option('--asym-window <LO,HI>', 'unreacted-fraction window of the early-charge frames the rule looks at', window, [0.2, 0.9] as [number, number])
    .option('--min-area-px <N>', 'smallest particle kept, pixels', number('--min-area-px', { integer: true, min: 1 }), 25)
    .addOption(new Option('--connectivity <N>', 'pixel connectivity of particles').choices(['4', '8']).default('8'))
    .option('--keep-border', 'keep particles touching the image border')
    .option('--seg-sigma-px <X>', 'Gaussian blur σ (px) of the reference before Otsu (noisy movies)', number('--seg-sigma-px', { min: 0 }), 0)
    .option('--seg-threshold <X>', 'fixed intensity threshold instead of Otsu', number('--seg-threshold'))
    .option('--no-drift', 'skip drift correction')
    .option('--max-drift-px <X>', 'largest drift searched, pixels (default an eighth of the frame\'s shorter side, at least 16)', number('--max-drift-px', { positive: true }))
    .option('--drift-threads <N>', 'worker threads for the drift estimate, 0 to 8 (0 = the main thread; default: the main thread for small movies, else 2)', number('--drift-threads', { integer: true, min: 0, max: 8 }))
    .option('--min-drift-px <X>', 'estimated drifts smaller than this are left uncorrected, pixels (default 0.15: the estimate\'s own error; 0 = correct every estimate)', number('--min-drift-px', { min: 0 }))
    .option('--smooth-px <R>', 'box-mean radius of the ΔI/I0 maps, pixels', number('--smooth-px', { integer: true, min: 0 }), 0)
    .option('--line-angle <DEG>', 'kymograph line angle, degrees counter-clockwise from +x (default: direction of the largest COM offset)', number('--line-angle'))
    .addOption(new Option('--kymo-axis <AXIS>', 'kymograph vertical axis').choices(['auto', 'time', 'capacity']).default('auto'))
    .option('--montage-frames <LIST>', 'frames shown in montage.png, e.g. 0,10,20 (default 6 evenly spaced)', frameList)
    .option('--diff-range <X>', 'colour range ±X of the figures (default: 99th percentile of |ΔI/I0|)', number('--diff-range', { positive: true }))
    .addOption(new Option('--diff-stack <MODE>', 'ΔI/I0 maps kept: full (diff.tif, every whole frame) or particles (particle_<id>/diff.tif, each particle\'s crop: for large movies)').choices(['full', 'particles']).default('full'))
    .option('--batch <N>', 'frames per GPU/CPU batch', number('--batch', { integer: true, min: 1 }), 16)
    .option('--backend <KIND>', 'auto | gpu | cpu', 'auto')
    .option('--quiet', 'no progress on stderr')
    .action(async (moviePath: string, o: CliOptions) => {
      let request;
      try {
        request = parseBackend(o.backend);
      } catch (e) {
        throw new UserError((e as Error).message);
      }
      const capacity = o.capacity ? await readCapacityFile(o.capacity) : null;
      const mask = o.mask ? { ...(await readImage(o.mask)), name: o.mask } : null;
      const movie = await openMovie(moviePath, { dataset: o.dataset, channel: o.channel });
      let backend: Backend | null = null;
      try {
        try {
          backend = await selectBackend(request);
        } catch (e) {
          if (e instanceof GpuUnavailableError) throw new UserError(`--backend ${request}: ${e.message} (use --backend auto or cpu)`);
          throw e;
        }
        const b = backend;
        const factory = async (opts: FrameProcessorOptions) =>
          b.kind === 'gpu' && b.gpu ? createGpuProcessor(b.gpu, opts) : createCpuProcessor(opts);
        const progress = createProgress('analyze', { quiet: o.quiet });
        const options: AnalyzeOptions = {
          reference: o.reference, pixel_um: o.pixelUm, frame_s: o.frameS, timeOffset_s: o.timeOffsetS,
          capacity, mask,
          threshold: o.threshold, asymThreshold: o.asymThreshold, asymWindow: o.asymWindow,
          minArea_px: o.minAreaPx, connectivity: Number(o.connectivity) as 4 | 8, keepBorder: o.keepBorder,
          segSigma_px: o.segSigmaPx, segThreshold: o.segThreshold,
          drift: o.drift, maxDrift_px: o.maxDriftPx, minDrift_px: o.minDriftPx, driftWorkers: o.driftThreads, smoothRadius: o.smoothPx,
          lineAngleDeg: o.lineAngle ?? null, kymoAxis: o.kymoAxis, montageFrames: o.montageFrames ?? null,
          diffRange: o.diffRange ?? null, batch: o.batch, diffStack: o.diffStack, backendLabel: b.label, progress,
          warn: (m) => process.stderr.write(`ionflux: warning: ${m}\n`),
        };
        const inputs = [
          { flag: 'MOVIE', path: moviePath },
          ...(o.capacity ? [{ flag: '--capacity', path: o.capacity }] : []),
          ...(o.mask ? [{ flag: '--mask', path: o.mask }] : []),
        ];
        // diff.tif (float32, every frame) dominates what analyze writes
        // (particle crops: an unknown share of it before segmentation; a tenth is a generous guess)
        const estimatedBytes = movie.width * movie.height * movie.frames * 4 * (o.diffStack === 'particles' ? 0.1 : 1.05) + 4 * 2 ** 20;
        const { value: result } = await writeOutputDir(o.out, (staging) => analyzeMovie(movie, staging, factory, options), { command: 'analyze', inputs, estimatedBytes });
        const s = result.summary;
        if (!o.quiet) {
          const frac = s.asymmetricFraction === null ? 'n/a' : `${(100 * s.asymmetricFraction).toFixed(0)} %`;
          process.stderr.write(`analyze: ${s.frames} frames, ${s.particles} particle(s), asymmetric ${frac}, backend ${b.label} → ${o.out}\n`);
        }
      } finally {
        await movie.close();
        backend?.gpu?.device.destroy();
      }
    });
}
