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
 * ≤ 0.03 px for a pure drift; particles whose reaction front moves between frames (which is not
 * drift, but changes the image) pull the estimate by up to ~0.1 px.
 */
import FFT from 'fft.js';

export interface DriftOptions {
  /** width σ of the correlation peak in pixels (Gaussian low-pass of the cross-power spectrum); default 1.0 */
  peakSigma_px?: number;
  /** shifts larger than this (pixels, per axis) are not searched; default a quarter of the frame */
  maxShift_px?: number;
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

/** In-place 2D complex FFT of a row-major interleaved [re, im] array of size ny × nx. */
class Fft2 {
  private readonly fx: FFT;
  private readonly fy: FFT;
  private readonly rowIn: number[];
  private readonly rowOut: number[];
  private readonly colIn: number[];
  private readonly colOut: number[];
  constructor(readonly nx: number, readonly ny: number) {
    this.fx = new FFT(nx);
    this.fy = new FFT(ny);
    this.rowIn = this.fx.createComplexArray();
    this.rowOut = this.fx.createComplexArray();
    this.colIn = this.fy.createComplexArray();
    this.colOut = this.fy.createComplexArray();
  }

  run(data: Float64Array, inverse: boolean): void {
    const { nx, ny } = this;
    for (let y = 0; y < ny; y++) {
      const base = 2 * y * nx;
      for (let k = 0; k < 2 * nx; k++) this.rowIn[k] = data[base + k];
      if (inverse) this.fx.inverseTransform(this.rowOut, this.rowIn); else this.fx.transform(this.rowOut, this.rowIn);
      for (let k = 0; k < 2 * nx; k++) data[base + k] = this.rowOut[k];
    }
    for (let x = 0; x < nx; x++) {
      for (let y = 0; y < ny; y++) { this.colIn[2 * y] = data[2 * (y * nx + x)]; this.colIn[2 * y + 1] = data[2 * (y * nx + x) + 1]; }
      if (inverse) this.fy.inverseTransform(this.colOut, this.colIn); else this.fy.transform(this.colOut, this.colIn);
      for (let y = 0; y < ny; y++) { data[2 * (y * nx + x)] = this.colOut[2 * y]; data[2 * (y * nx + x) + 1] = this.colOut[2 * y + 1]; }
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
  private readonly work: Float64Array;
  private readonly maxShift: number;

  constructor(reference: ArrayLike<number>, readonly width: number, readonly height: number, options: DriftOptions = {}) {
    this.nx = nextPow2(width);
    this.ny = nextPow2(height);
    this.fft = new Fft2(this.nx, this.ny);
    this.maxShift = options.maxShift_px ?? Math.floor(Math.min(width, height) / 4);
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
    this.work = new Float64Array(2 * this.nx * this.ny);
    this.refSpectrum = new Float64Array(2 * this.nx * this.ny);
    this.load(reference, this.refSpectrum);
    this.fft.run(this.refSpectrum, false);
  }

  /** mean-subtracted, windowed, zero-padded copy of `image` into `out` (complex interleaved) */
  private load(image: ArrayLike<number>, out: Float64Array): void {
    const { width, height, nx } = this;
    let sum = 0, wsum = 0;
    for (let i = 0; i < width * height; i++) {
      const v = image[i];
      if (Number.isFinite(v)) { sum += this.window[i] * v; wsum += this.window[i]; }
    }
    const mean = wsum > 0 ? sum / wsum : 0;
    out.fill(0);
    for (let r = 0; r < height; r++) {
      for (let c = 0; c < width; c++) {
        const v = image[r * width + c];
        out[2 * (r * nx + c)] = Number.isFinite(v) ? (v - mean) * this.window[r * width + c] : 0;
      }
    }
  }

  /** Drift of `frame` relative to the reference (see the sign convention at the top of this file). */
  estimate(frame: ArrayLike<number>): DriftEstimate {
    const { nx, ny, work, refSpectrum } = this;
    this.load(frame, work);
    this.fft.run(work, false);
    for (let k = 0; k < nx * ny; k++) {
      const a = work[2 * k], b = work[2 * k + 1];
      const c = refSpectrum[2 * k], d = refSpectrum[2 * k + 1];
      // F · conj(R)
      const re = a * c + b * d, im = b * c - a * d;
      const mag = Math.hypot(re, im);
      const s = mag > 1e-30 ? this.lowpass[k] / mag : 0;
      work[2 * k] = re * s;
      work[2 * k + 1] = im * s;
    }
    this.fft.run(work, true);
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
    // Peak height of a perfect match: the sum of the low-pass weights over the spectrum / (nx·ny).
    let norm = 0;
    for (let k = 0; k < nx * ny; k++) norm += this.lowpass[k];
    norm /= nx * ny;
    return { shift: [bx + sx, by + sy], peak: norm > 0 ? c0 / norm : 0 };
  }
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
