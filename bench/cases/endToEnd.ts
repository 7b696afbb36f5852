/**
 * End-to-end cases: what a user waits for, through the real CLI as a child process.
 *
 * (a) `simulate-e2e`: `ionflux simulate --preset fig4c --backend cpu` from process start to the last
 *     file (the paper's Fig. 4c, 122² cells, 20 min at 100 mA/g), next to the bare start-up
 *     (`ionflux --version`), so that set-up and stepping can be told apart.
 * (b) `analyze-e2e`: frames/s of `ionflux analyze --backend cpu` on a generated 16-bit movie
 *     (2048² × 100, or 512² × 20 with --quick), against what a scientist would write instead: a
 *     tifffile + scikit-image + SciPy script doing the same work (Otsu particles of the reference,
 *     phase-correlation drift per frame, bilinear shift, ΔI/I0, per-particle mean, unreacted area and
 *     COM), timed in the same run when python3 has those packages (Debian: python3-skimage,
 *     python3-tifffile), else a row saying it was skipped. The two are run alternately, sample by
 *     sample (3 each), and the medians reported: the machine's load changes between samples, not
 *     within a pair. Each row also gives frames per CPU-second (all threads), which the load moves
 *     far less than the wall time (docs/performance.md).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchCase, BenchContext, BenchRow } from '../harness';
import { findNumpyPython } from '../harness';
import { measureChildPeakRss, writeLargeMovie } from './imaging';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function simulateRows(ctx: BenchContext): Promise<BenchRow[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ionflux-bench-e2e-'));
  const samples = ctx.quick ? 1 : 3;
  try {
    const startup: number[] = [], fig4c: number[] = [];
    let failure = '';
    for (let k = 0; k < samples; k++) {
      // interleaved, so that a loaded machine slows both alike
      const v = measureChildPeakRss(['--version']);
      startup.push(v.wall_s);
      const r = measureChildPeakRss(['simulate', '--preset', 'fig4c', '--backend', 'cpu', '--quiet', '--out', path.join(dir, `fig4c-${k}`)]);
      if (r.status !== 0) failure = r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`;
      fig4c.push(r.wall_s);
    }
    const spread = (xs: number[]) => `${((100 * (Math.max(...xs) - Math.min(...xs))) / median(xs)).toFixed(0)}%`;
    return [
      { id: 'e2e.startup', case: 'simulate-e2e', backend: 'cli', size: 'ionflux --version', value: median(startup), unit: 's', better: 'lower', spread: spread(startup), note: 'node start + bundle import + argument parsing' },
      {
        id: 'e2e.fig4c', case: 'simulate-e2e', backend: 'cpu-ref', size: 'fig4c 122², 20 min', value: median(fig4c), unit: 's', better: 'lower', spread: spread(fig4c),
        note: failure ? `FAILED: ${failure}` : 'child process, start to last file (12 000 steps, 121 trace rows, 4 snapshots + PNGs); target < 1 s',
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The peer: a tifffile + scikit-image + SciPy script of the same analysis, frames/s on stdout (JSON). */
const SKIMAGE_SCRIPT = `
import json, resource, sys, time
import numpy as np, tifffile
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu
from skimage.measure import label
from skimage.registration import phase_cross_correlation
path = sys.argv[1]
t0 = time.perf_counter()
with tifffile.TiffFile(path) as tf:
    pages = tf.pages
    ref = pages[0].asarray().astype(np.float32)
    lab = label(ref > threshold_otsu(ref))
    idx = np.arange(1, lab.max() + 1)
    for i in range(len(pages)):
        f = pages[i].asarray().astype(np.float32)
        shift, _, _ = phase_cross_correlation(ref, f, upsample_factor=20)
        fc = ndi.shift(f, -shift, order=1, mode='nearest')
        d = (fc - ref) / ref
        mean = ndi.mean(d, lab, idx)
        unreacted = d < 0.05
        area = ndi.sum(unreacted, lab, idx)
        com = ndi.center_of_mass(unreacted, lab, idx)
    n = len(pages)
dt = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"frames": n, "seconds": dt, "fps": n / dt, "cpu_s": ru.ru_utime + ru.ru_stime, "particles": int(lab.max())}))
`;

/** The first python3 that has the whole stack (a pyenv python3 may have NumPy only), or why there is none. */
function skimagePython(): { exe: string } | string {
  if (!findNumpyPython()) return 'skipped: no python3 with NumPy';
  const exe = [process.env.IONFLUX_PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean)
    .find((e) => spawnSync(e as string, ['-c', 'import skimage, scipy, tifffile'], { encoding: 'utf8' }).status === 0) as string | undefined;
  return exe ? { exe } : 'skipped: python3 lacks scikit-image, SciPy or tifffile (Debian: apt-get install python3-skimage python3-tifffile)';
}

/** One run of the peer script: frames/s over its timed loop and its CPU seconds (startup and imports excluded). */
function skimagePeer(exe: string, movie: string): { fps: number; seconds: number; cpu_s: number; process_s: number } | string {
  const t0 = performance.now();
  const r = spawnSync(exe, ['-c', SKIMAGE_SCRIPT, movie], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const process_s = (performance.now() - t0) / 1000; // with Python's start and imports, as ionflux is timed
  if (r.status !== 0) return `FAILED: ${r.stderr.trim().split('\n').pop()}`;
  const out = JSON.parse(r.stdout.trim().split('\n').pop() as string);
  return { fps: out.fps, seconds: out.seconds, cpu_s: out.cpu_s, process_s };
}

async function analyzeRows(ctx: BenchContext): Promise<BenchRow[]> {
  const [side, frames] = ctx.quick ? [512, 20] : [2048, 100];
  const samples = 3;
  const size = `${side}²×${frames} u16`;
  const dir = mkdtempSync(path.join(process.env.IONFLUX_BENCH_DIR ?? os.tmpdir(), 'ionflux-bench-analyze-'));
  try {
    const movie = path.join(dir, 'movie.tif');
    ctx.log(`analyze-e2e: writing ${size}`);
    await writeLargeMovie(movie, side, side, frames);
    const python = skimagePython();
    const ours: { fps: number; cpu_s: number; rss: number | null }[] = [];
    const theirs: { fps: number; cpu_s: number; process_s: number }[] = [];
    let failure = '', peerFailure = typeof python === 'string' ? python : '';
    for (let k = 0; k < samples; k++) {
      // alternately, so that a change in the machine's load hits both alike
      const out = path.join(dir, `out-${k}`);
      ctx.log(`analyze-e2e: sample ${k + 1}/${samples}: ionflux analyze --backend cpu (child process)`);
      const r = measureChildPeakRss(['analyze', movie, '--backend', 'cpu', '--quiet', '--out', out]);
      if (r.status !== 0) failure = r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`;
      else ours.push({ fps: frames / r.wall_s, cpu_s: r.cpu_s ?? NaN, rss: r.maxRss_kB });
      rmSync(out, { recursive: true, force: true });
      if (typeof python !== 'string' && !peerFailure) {
        ctx.log(`analyze-e2e: sample ${k + 1}/${samples}: the tifffile + scikit-image script`);
        const p = skimagePeer(python.exe, movie);
        if (typeof p === 'string') peerFailure = p;
        else theirs.push({ fps: p.fps, cpu_s: p.cpu_s, process_s: p.process_s });
      }
    }
    const spread = (xs: number[]) => `${((100 * (Math.max(...xs) - Math.min(...xs))) / median(xs)).toFixed(0)}%`;
    const perCpu = (xs: { cpu_s: number }[]) => median(xs.map((x) => frames / x.cpu_s));
    const rows: BenchRow[] = [];
    rows.push(ours.length && !failure
      ? {
        id: 'e2e.analyze.cpu', case: 'analyze-e2e', backend: 'cpu', size, value: median(ours.map((x) => x.fps)), unit: 'frames/s', better: 'higher', spread: spread(ours.map((x) => x.fps)),
        ratioTo: ['e2e.analyze.skimage'],
        note: `whole process, all outputs (diff.tif, traces, kymographs, figures); median of ${ours.length}, interleaved with the script; ${perCpu(ours).toFixed(2)} frames per CPU-second; peak RSS ${ours[0].rss ? (ours[0].rss / 1024).toFixed(0) : '?'} MiB`,
      }
      : { id: 'e2e.analyze.cpu', case: 'analyze-e2e', backend: 'cpu', size, value: NaN, unit: 'frames/s', better: 'higher', note: `FAILED: ${failure}` });
    rows.push(theirs.length && !peerFailure
      ? {
        id: 'e2e.analyze.skimage', case: 'analyze-e2e', backend: 'skimage', size, value: median(theirs.map((x) => x.fps)), unit: 'frames/s', better: 'higher', spread: spread(theirs.map((x) => x.fps)),
        note: `tifffile + scikit-image phase_cross_correlation (upsample 20) + scipy.ndimage shift/mean/sum/COM per frame, timed loop only (whole process: ${median(theirs.map((x) => frames / x.process_s)).toFixed(2)} frames/s); median of ${theirs.length}; ${perCpu(theirs).toFixed(2)} frames per CPU-second of the loop`,
      }
      : { id: 'e2e.analyze.skimage', case: 'analyze-e2e', backend: 'skimage', size, value: NaN, unit: 'frames/s', better: 'higher', note: peerFailure });
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const endToEndCases: BenchCase[] = [
  { name: 'simulate-e2e', run: simulateRows },
  { name: 'analyze-e2e', run: analyzeRows },
];
