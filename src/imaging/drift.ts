/**
 * Stage drift by phase correlation against the reference frame.
 *
 * Sign convention (shared with the differencing code, src/imaging/processor.ts, and summary.json's
 * `drift_px`): a drift [dx, dy] in pixels means that the frame's content sits at reference
 * position + (dx, dy), x to the right and y downward. The drift-corrected frame is therefore the
 * frame sampled at (x + dx, y + dy): corrected(x, y) = frame(x + dx, y + dy) ≈ reference(x, y).
 *
 * Method: both images are mean-subtracted and Hann-windowed (so the image edges do not correlate),
 * zero-padded to powers of two and Fourier transformed (fft.js); the normalised cross-power spectrum
 * F·conj(R)/|F·conj(R)| is multiplied by a Gaussian low-pass exp(−2π²σ²|k|²) before the inverse
 * transform. Without it the correlation peak of a sub-pixel shift is a sampled Dirichlet kernel,
 * whose 3-point parabolic fit is biased by a sizeable fraction of a pixel; with it the peak is a
 * sampled Gaussian of width σ centred on the true shift, and the 3-point Gaussian fit (a parabola
 * through the logarithms) is exact for it. Measured on synthetic movies (test/imaging/drift.test.ts):
 * ≤ 0.03 px for a pure drift.
 *
 * A reaction front moving inside a particle is not drift but changes the image, and pulled the plain
 * estimate by up to ~0.4 px (test/imaging/driftRobust.test.ts). With `clipAbove` (driftClipLevel)
 * the particles become flat silhouettes and the front is invisible to the correlation: ≤ 0.04 px.
 */
import { checkPixels, checkSize } from '../checks';
import FFT from 'fft.js';
import { otsuThreshold } from './segment';

export interface DriftOptions {
  /** width σ of the correlation peak in pixels (Gaussian low-pass of the cross-power spectrum); default 1.0 */
  peakSigma_px?: number;
  /** shifts larger than this (pixels, per axis) are not searched; default a quarter of the frame */
  maxShift_px?: number;
  /**
   * intensities above this are clipped to it before correlating (driftClipLevel): the particles
   * become flat silhouettes on their background, so the reaction inside them, which is not drift,
   * no longer pulls the estimate. Default: no clipping.
   */
  clipAbove?: number;
  /**
   * correlate only this part of the frames (pixels; e.g. the particles' bounding box with a margin):
   * the cost is two FFTs of the region's padded size instead of the frame's. Default: the whole frame.
   */
  region?: { x0: number; y0: number; width: number; height: number };
  /**
   * correlate b×b block means of the region (an integer ≥ 1; default 1): the FFTs cost 1/b² as much,
   * and the shift is measured in blocks and returned in pixels (b × the block shift). Large frames
   * only (see driftBinning): the particles' silhouettes and the background texture are many blocks
   * wide there, so the sub-pixel fit keeps its accuracy in pixels (test/imaging/drift.test.ts).
   */
  bin?: number;
}

export interface DriftEstimate {
  /** [dx, dy] in pixels, the frame's content sits at reference + (dx, dy) */
  shift: [number, number];
  /** normalised height of the correlation peak (1 = identical up to the shift, ~0 = no match) */
  peak: number;
}

function nextPow2(n: number): number {
  let p = 2;
  while (p < n) p <<= 1;
  return p;
}

/**
 * The two 2D FFTs phase correlation needs, on a row-major interleaved [re, im] array of ny × nx:
 * `forwardReal` of a real image (the re parts; the im parts are ignored) and `inverseToReal` of a
 * Hermitian spectrum (the cross-power spectrum of two real images), whose real result lands in the
 * re parts. Both use the Hermitian symmetry X[v][nx−u] = conj(X[−v][u]): a real FFT per row, and
 * column FFTs of the nx/2 + 1 columns u ≤ nx/2 only, the others filled by symmetry — about half the
 * work of a complex 2D FFT. The columns go through a transposed scratch copy, so every FFT runs on
 * contiguous memory.
 */
class Fft2 {
  private readonly fx: FFT;
  private readonly fy: FFT;
  private readonly half: number;
  /** columns u = 0 … nx/2, transposed: column u at [2·u·ny, 2·(u + 1)·ny) */
  private readonly cols: Float64Array;
  /** BLOCK rows (or columns) at a time, so that the transposes touch memory in runs, not strides */
  private readonly rowBlock: Float64Array;
  private readonly colBlock: Float64Array;
  private readonly rowReal: Float64Array;
  private readonly rowIn: Float64Array;
  private readonly colIn: Float64Array;
  private static readonly BLOCK = 16;
  constructor(readonly nx: number, readonly ny: number) {
    this.fx = new FFT(nx);
    this.fy = new FFT(ny);
    this.half = nx / 2 + 1;
    this.cols = new Float64Array(2 * ny * this.half);
    this.rowBlock = new Float64Array(2 * nx * Fft2.BLOCK);
    this.colBlock = new Float64Array(2 * ny * Fft2.BLOCK);
    this.rowReal = new Float64Array(nx);
    this.rowIn = new Float64Array(2 * nx);
    this.colIn = new Float64Array(2 * ny);
  }

  /**
   * `mirror` false: the columns u > nx/2 are left as they were (inverseToReal never reads them, so a
   * spectrum that only goes on to it needs only u ≤ nx/2).
   */
  forwardReal(data: Float64Array, mirror = true): void {
    const { nx, ny, half, cols, rowBlock, colBlock, rowReal } = this;
    const B = Fft2.BLOCK;
    const fx = this.fx as unknown as { realTransform(out: Float64Array, data: Float64Array): void };
    // rows: a real FFT each, the left half kept, written transposed into cols
    for (let y0 = 0; y0 < ny; y0 += B) {
      const nb = Math.min(B, ny - y0);
      for (let b = 0; b < nb; b++) {
        const base = 2 * (y0 + b) * nx;
        for (let x = 0; x < nx; x++) rowReal[x] = data[base + 2 * x];
        fx.realTransform(rowBlock.subarray(2 * b * nx, 2 * (b + 1) * nx), rowReal);
      }
      for (let u = 0; u < half; u++) {
        const to = 2 * (u * ny + y0);
        for (let b = 0; b < nb; b++) { cols[to + 2 * b] = rowBlock[2 * (b * nx + u)]; cols[to + 2 * b + 1] = rowBlock[2 * (b * nx + u) + 1]; }
      }
    }
    // columns u ≤ nx/2: an FFT each, written back with their mirror images nx − u
    for (let u0 = 0; u0 < half; u0 += B) {
      const nb = Math.min(B, half - u0);
      for (let b = 0; b < nb; b++) {
        const u = u0 + b;
        this.fy.transform(colBlock.subarray(2 * b * ny, 2 * (b + 1) * ny) as unknown as number[], cols.subarray(2 * u * ny, 2 * (u + 1) * ny) as unknown as number[]);
      }
      for (let v = 0; v < ny; v++) {
        const row = 2 * v * nx, mirrorRow = 2 * ((ny - v) % ny) * nx;
        for (let b = 0; b < nb; b++) {
          const u = u0 + b;
          const re = colBlock[2 * (b * ny + v)], im = colBlock[2 * (b * ny + v) + 1];
          data[row + 2 * u] = re;
          data[row + 2 * u + 1] = im;
          if (mirror && u > 0 && u < nx - u) { data[mirrorRow + 2 * (nx - u)] = re; data[mirrorRow + 2 * (nx - u) + 1] = -im; }
        }
      }
    }
  }

  inverseToReal(data: Float64Array): void {
    const { nx, ny, half, cols, rowBlock, colBlock, rowIn, colIn } = this;
    const B = Fft2.BLOCK;
    // columns u ≤ nx/2 (the others are their conjugates): an inverse FFT each, into cols
    for (let u0 = 0; u0 < half; u0 += B) {
      const nb = Math.min(B, half - u0);
      for (let v = 0; v < ny; v++) {
        const row = 2 * v * nx;
        for (let b = 0; b < nb; b++) { colBlock[2 * (b * ny + v)] = data[row + 2 * (u0 + b)]; colBlock[2 * (b * ny + v) + 1] = data[row + 2 * (u0 + b) + 1]; }
      }
      for (let b = 0; b < nb; b++) {
        const u = u0 + b;
        colIn.set(colBlock.subarray(2 * b * ny, 2 * (b + 1) * ny));
        this.fy.inverseTransform(cols.subarray(2 * u * ny, 2 * (u + 1) * ny) as unknown as number[], colIn as unknown as number[]);
      }
    }
    // rows: completed by symmetry, an inverse FFT each; the real part is the result
    for (let y0 = 0; y0 < ny; y0 += B) {
      const nb = Math.min(B, ny - y0);
      for (let u = 0; u < half; u++) {
        const from = 2 * (u * ny + y0);
        for (let b = 0; b < nb; b++) { rowBlock[2 * (b * nx + u)] = cols[from + 2 * b]; rowBlock[2 * (b * nx + u) + 1] = cols[from + 2 * b + 1]; }
      }
      for (let b = 0; b < nb; b++) {
        const r = rowBlock.subarray(2 * b * nx, 2 * (b + 1) * nx);
        for (let u = half; u < nx; u++) { r[2 * u] = r[2 * (nx - u)]; r[2 * u + 1] = -r[2 * (nx - u) + 1]; }
        rowIn.set(r);
        this.fx.inverseTransform(r as unknown as number[], rowIn as unknown as number[]);
        const base = 2 * (y0 + b) * nx;
        for (let x = 0; x < nx; x++) { data[base + 2 * x] = r[2 * x]; data[base + 2 * x + 1] = 0; }
      }
    }
  }
}

/**
 * Estimates the drift of frames relative to one reference. Construct once per movie (the reference's
 * spectrum is computed once), then call `estimate(frame)` per frame. Cost: two 2D FFTs per frame of
 * the padded size.
 */
export class DriftEstimator {
  private readonly nx: number;
  private readonly ny: number;
  private readonly fft: Fft2;
  private readonly window: Float64Array;
  private readonly refSpectrum: Float64Array;
  private readonly lowpass: Float64Array;
  /** peak height of a perfect match: the sum of the low-pass weights over the spectrum / (nx·ny) */
  private readonly perfectPeak: number;
  private readonly work: Float64Array;
  private readonly maxShift: number;
  private readonly clipAbove: number;
  /** block size (options.bin) and the block means of the region (NaN where no sample is finite) */
  private readonly bin: number;
  private readonly binned: Float64Array;

  /** the correlated region: origin in the frame, and its size in blocks */
  private readonly x0: number;
  private readonly y0: number;
  private readonly width: number;
  private readonly height: number;

  constructor(reference: ArrayLike<number>, readonly frameWidth: number, readonly frameHeight: number, options: DriftOptions = {}) {
    checkSize(frameWidth, frameHeight, 'drift: frame');
    checkPixels('drift: reference', reference.length, frameWidth, frameHeight);
    this.clipAbove = options.clipAbove ?? Infinity;
    const reg = options.region ?? { x0: 0, y0: 0, width: frameWidth, height: frameHeight };
    const bad = !(Number.isInteger(reg.x0) && Number.isInteger(reg.y0) && Number.isInteger(reg.width) && Number.isInteger(reg.height)) ||
      reg.x0 < 0 || reg.y0 < 0 || reg.width < 2 || reg.height < 2 || reg.x0 + reg.width > frameWidth || reg.y0 + reg.height > frameHeight;
    if (bad) throw new RangeError(`drift region ${JSON.stringify(reg)} does not lie inside the ${frameWidth}×${frameHeight} frame`);
    const bin = (this.bin = options.bin ?? 1);
    if (!(Number.isInteger(bin) && bin >= 1 && reg.width >= 2 * bin && reg.height >= 2 * bin)) {
      throw new RangeError(`drift bin = ${options.bin} is not allowed for a ${reg.width}×${reg.height} region: use an integer ≥ 1 that leaves at least 2×2 blocks`);
    }
    this.x0 = reg.x0; this.y0 = reg.y0;
    const width = (this.width = Math.floor(reg.width / bin)), height = (this.height = Math.floor(reg.height / bin));
    this.binned = new Float64Array(width * height);
    this.nx = nextPow2(width);
    this.ny = nextPow2(height);
    this.fft = new Fft2(this.nx, this.ny);
    // searched in blocks: the largest shift in pixels, rounded up to whole blocks
    this.maxShift = options.maxShift_px !== undefined ? Math.ceil(options.maxShift_px / bin) : Math.floor(Math.min(width, height) / 4);
    const wx = new Float64Array(width), wy = new Float64Array(height);
    for (let i = 0; i < width; i++) wx[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * (i + 0.5)) / width);
    for (let i = 0; i < height; i++) wy[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * (i + 0.5)) / height);
    this.window = new Float64Array(width * height);
    for (let r = 0; r < height; r++) for (let c = 0; c < width; c++) this.window[r * width + c] = wy[r] * wx[c];
    const sigma = options.peakSigma_px ?? 1.0;
    this.lowpass = new Float64Array(this.nx * this.ny);
    for (let v = 0; v < this.ny; v++) {
      const fy = (v <= this.ny / 2 ? v : v - this.ny) / this.ny;
      for (let u = 0; u < this.nx; u++) {
        const fx = (u <= this.nx / 2 ? u : u - this.nx) / this.nx;
        this.lowpass[v * this.nx + u] = Math.exp(-2 * Math.PI * Math.PI * sigma * sigma * (fx * fx + fy * fy));
      }
    }
    let sum = 0;
    for (let k = 0; k < this.nx * this.ny; k++) sum += this.lowpass[k];
    this.perfectPeak = sum / (this.nx * this.ny);
    this.work = new Float64Array(2 * this.nx * this.ny);
    this.refSpectrum = new Float64Array(2 * this.nx * this.ny);
    this.load(reference, this.refSpectrum);
    this.fft.forwardReal(this.refSpectrum);
  }

  /**
   * The region's (clipped) b×b block means into `binned`: clipped first, so that a particle stays a
   * flat silhouette; non-finite samples are left out of a block's mean (NaN when none is finite).
   * With b = 1 this is the clipped sample itself.
   */
  private bin_(image: ArrayLike<number>): Float64Array {
    const { width, height, x0, y0, frameWidth, bin, binned } = this;
    const clip = this.clipAbove;
    if (bin === 1) {
      for (let r = 0; r < height; r++) {
        const row = (y0 + r) * frameWidth + x0;
        for (let c = 0; c < width; c++) binned[r * width + c] = Math.min(image[row + c], clip);
      }
      return binned;
    }
    for (let r = 0; r < height; r++) {
      for (let c = 0; c < width; c++) {
        let s = 0, n = 0;
        for (let dr = 0; dr < bin; dr++) {
          const row = (y0 + r * bin + dr) * frameWidth + x0 + c * bin;
          for (let dc = 0; dc < bin; dc++) {
            const v = Math.min(image[row + dc], clip);
            if (Number.isFinite(v)) { s += v; n++; }
          }
        }
        binned[r * width + c] = n ? s / n : NaN;
      }
    }
    return binned;
  }

  /** mean-subtracted, windowed, zero-padded (and clipped, binned) copy of `image` into `out` (complex interleaved) */
  private load(image: ArrayLike<number>, out: Float64Array): void {
    const { width, height, nx } = this;
    const b = this.bin_(image);
    let sum = 0, wsum = 0;
    for (let r = 0; r < height; r++) {
      for (let c = 0; c < width; c++) {
        const v = b[r * width + c];
        if (Number.isFinite(v)) { sum += this.window[r * width + c] * v; wsum += this.window[r * width + c]; }
      }
    }
    const mean = wsum > 0 ? sum / wsum : 0;
    // only the real parts: forwardReal reads nothing else; the zero padding is written here too (the
    // array holds the last estimate's correlation surface), so no fill of the whole array is needed
    for (let r = 0; r < height; r++) {
      for (let c = 0; c < width; c++) {
        const v = b[r * width + c];
        out[2 * (r * nx + c)] = Number.isFinite(v) ? (v - mean) * this.window[r * width + c] : 0;
      }
      for (let c = width; c < nx; c++) out[2 * (r * nx + c)] = 0;
    }
    for (let k = height * nx; k < this.ny * nx; k++) out[2 * k] = 0;
  }

  /** Drift of `frame` relative to the reference (see the sign convention at the top of this file). */
  estimate(frame: ArrayLike<number>): DriftEstimate {
    checkPixels('drift: frame', frame.length, this.frameWidth, this.frameHeight);
    const { nx, ny, work, refSpectrum } = this;
    this.load(frame, work);
    this.fft.forwardReal(work, false);
    // the cross-power spectrum is Hermitian and inverseToReal reads the columns u ≤ nx/2 only: half
    // of it is computed (the same values as the whole, so the same result bit for bit)
    const lowpass = this.lowpass, half = nx / 2;
    for (let v = 0; v < ny; v++) {
      for (let u = 0, k = v * nx; u <= half; u++, k++) {
        const a = work[2 * k], b = work[2 * k + 1];
        const c = refSpectrum[2 * k], d = refSpectrum[2 * k + 1];
        // F · conj(R)
        const re = a * c + b * d, im = b * c - a * d;
        const mag = Math.sqrt(re * re + im * im);
        const s = mag > 1e-30 ? lowpass[k] / mag : 0;
        work[2 * k] = re * s;
        work[2 * k + 1] = im * s;
      }
    }
    this.fft.inverseToReal(work);
    // Peak search over |shift| ≤ maxShift (wrapped indices).
    const m = this.maxShift;
    let best = -Infinity, bx = 0, by = 0;
    for (let dy = -Math.min(m, ny / 2 - 1); dy <= Math.min(m, ny / 2 - 1); dy++) {
      const v = (dy + ny) % ny;
      for (let dx = -Math.min(m, nx / 2 - 1); dx <= Math.min(m, nx / 2 - 1); dx++) {
        const u = (dx + nx) % nx;
        const val = work[2 * (v * nx + u)];
        if (val > best) { best = val; bx = dx; by = dy; }
      }
    }
    const at = (dx: number, dy: number) => work[2 * (((dy + ny) % ny) * nx + ((dx + nx) % nx))];
    const refine = (cm: number, c0: number, cp: number) => {
      // Gaussian 3-point fit; falls back to a parabola where a neighbour is not positive.
      if (cm > 0 && c0 > 0 && cp > 0) {
        const lm = Math.log(cm), l0 = Math.log(c0), lp = Math.log(cp);
        const den = lm - 2 * l0 + lp;
        if (den < 0) return Math.max(-0.5, Math.min(0.5, (lm - lp) / (2 * den)));
      }
      const den = cm - 2 * c0 + cp;
      return den < 0 ? Math.max(-0.5, Math.min(0.5, (cm - cp) / (2 * den))) : 0;
    };
    const c0 = at(bx, by);
    const sx = refine(at(bx - 1, by), c0, at(bx + 1, by));
    const sy = refine(at(bx, by - 1), c0, at(bx, by + 1));
    const norm = this.perfectPeak;
    return { shift: [this.bin * (bx + sx), this.bin * (by + sy)], peak: norm > 0 ? c0 / norm : 0 };
  }
}

/**
 * The clipping level for DriftEstimator: a quarter of the way from the background to the particles
 * of the reference (their medians on either side of the Otsu threshold). Low, so that the reaction
 * (ΔI/I0 of ±0.3 moves a particle's intensity far less than the particle/background contrast) never
 * carries a particle pixel below it, and so that the rim's brightening moves the silhouette's edge by
 * a small fraction of a pixel only. Returns undefined when the frame has no such contrast (no
 * particles, or particles darker than the background). `labels` (nonzero = particle), when given,
 * say which pixels are particles; else they are those above the Otsu threshold.
 */
export function driftClipLevel(reference: ArrayLike<number>, width: number, height: number, labels?: ArrayLike<number>): number | undefined {
  const n = width * height;
  let bgValues: number[] = [], fgValues: number[] = [];
  if (labels) {
    for (let i = 0; i < n; i++) if (Number.isFinite(reference[i])) (labels[i] > 0 ? fgValues : bgValues).push(reference[i]);
  } else {
    // as segmentParticles does: particles are what lies above the Otsu threshold
    const finite: number[] = [];
    for (let i = 0; i < n; i++) if (Number.isFinite(reference[i])) finite.push(reference[i]);
    if (finite.length < 16) return undefined;
    const t = otsuThreshold(finite);
    bgValues = finite.filter((v) => v <= t);
    fgValues = finite.filter((v) => v > t);
  }
  if (bgValues.length < 4 || fgValues.length < 4) return undefined;
  // a typed array sorts numerically without a comparator call per comparison (~20× faster on a frame)
  const median = (a: number[]) => Float64Array.from(a).sort()[a.length >> 1];
  const bg = median(bgValues), fg = median(fgValues);
  if (!(fg > bg)) return undefined; // particles darker than their background: leave the frames as they are
  return bg + 0.25 * (fg - bg);
}

/**
 * The region drift is estimated on: the bounding box of the particles (labels > 0) grown by
 * `margin_px` on every side, clipped to the frame; the whole frame when there are no particles or
 * the box would cover most of it anyway.
 */
export function driftRegion(labels: ArrayLike<number>, width: number, height: number, margin_px: number): { x0: number; y0: number; width: number; height: number } {
  let xmin = width, xmax = -1, ymin = height, ymax = -1;
  for (let r = 0; r < height; r++) for (let c = 0; c < width; c++) {
    if (labels[r * width + c] > 0) {
      if (c < xmin) xmin = c; if (c > xmax) xmax = c;
      if (r < ymin) ymin = r; if (r > ymax) ymax = r;
    }
  }
  const full = { x0: 0, y0: 0, width, height };
  if (xmax < 0) return full;
  const m = Math.ceil(margin_px);
  const x0 = Math.max(0, xmin - m), y0 = Math.max(0, ymin - m);
  const x1 = Math.min(width, xmax + 1 + m), y1 = Math.min(height, ymax + 1 + m);
  if ((x1 - x0) * (y1 - y0) > 0.6 * width * height) return full;
  return { x0, y0, width: x1 - x0, height: y1 - y0 };
}

/** Regions up to this size (pixels per side, padded to a power of two) are correlated at full resolution. */
export const DRIFT_FULL_RES_MAX_PX = 1024;

/**
 * The block size for a drift region of width × height pixels: the smallest power of two b whose
 * b×b block means pad to at most DRIFT_FULL_RES_MAX_PX per side (1 for regions up to 1024 px: every
 * test movie and most cameras' particle boxes; 2 for a 2048² frame). The FFT cost grows as the padded
 * area: a 2048² region costs ~4.5× a 1024² one, and the block-mean pass costs one read per pixel.
 */
export function driftBinning(width: number, height: number): number {
  let b = 1;
  while (nextPow2(Math.floor(Math.max(width, height) / b)) > DRIFT_FULL_RES_MAX_PX && Math.min(width, height) / (2 * b) >= 64) b *= 2;
  return b;
}

/** Convenience: drift of one frame relative to a reference. */
export function estimateDrift(reference: ArrayLike<number>, frame: ArrayLike<number>, width: number, height: number, options?: DriftOptions): DriftEstimate {
  return new DriftEstimator(reference, width, height, options).estimate(frame);
}

/**
 * Samples `frame` at (x + dx, y + dy) with bilinear interpolation: the drift-corrected frame in the
 * convention above. Samples falling outside the frame are NaN. Used by tests and as the CPU
 * definition of what the frame processor does with a shift.
 */
export function shiftFrame(frame: ArrayLike<number>, width: number, height: number, shift: [number, number]): Float32Array {
  const [dx, dy] = shift;
  const out = new Float32Array(width * height);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const x = c + dx, y = r + dy;
      const x0 = Math.floor(x), y0 = Math.floor(y);
      const fx = x - x0, fy = y - y0;
      const x1 = fx > 0 ? x0 + 1 : x0, y1 = fy > 0 ? y0 + 1 : y0;
      if (x0 < 0 || y0 < 0 || x1 >= width || y1 >= height) { out[r * width + c] = NaN; continue; }
      const v00 = frame[y0 * width + x0], v10 = frame[y0 * width + x1];
      const v01 = frame[y1 * width + x0], v11 = frame[y1 * width + x1];
      out[r * width + c] = (1 - fy) * ((1 - fx) * v00 + fx * v10) + fy * ((1 - fx) * v01 + fx * v11);
    }
  }
  return out;
}
