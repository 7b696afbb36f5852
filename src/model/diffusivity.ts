/**
 * Li diffusivity D(θ) in the layered oxide (m²/s) and its Kirchhoff potential Φ(θ) = ∫0^θ D(s) ds.
 * Face fluxes are differences of Φ (SPEC §1): exact for any D(θ) between two cell values, where an
 * arithmetic or harmonic mean of D would smear a front across 3–4 decades of D.
 */

export type DiffusivitySpec =
  | { preset: 'knee'; thetaKnee?: number; log10DHigh?: number; log10DLow?: number }
  | { preset: 'colclasure-nmc532' }
  | { preset: 'oregan2022-nmc811' }
  | { preset: 'constant'; D_m2_s: number }
  | { table: { theta: number[]; D_m2_s: number[] } };

/** Parameter table of the presets, with where each value comes from. */
export const KNEE_DEFAULTS = {
  /** θ above which Li gets slow (placeholder calibrated to Lun et al. 2025's observations, not measured) */
  thetaKnee: 0.85,
  /** log10 D [m²/s] for θ ≤ θ*: sets the rate dependence of the capacity at the θs = 0.2 cut-off */
  log10DHigh: -15,
  /** log10 D [m²/s] at θ = 1: sets how long the Li-rich core survives */
  log10DLow: -16.5,
};

/** D(θ) in m²/s for a spec. `warn` receives notes such as a table being clamped. */
export function diffusivityFunction(spec: DiffusivitySpec, warn: (msg: string) => void = () => {}): (theta: number) => number {
  if ('table' in spec) return tableDiffusivity(spec.table.theta, spec.table.D_m2_s, warn);
  switch (spec.preset) {
    case 'knee': {
      const tk = spec.thetaKnee ?? KNEE_DEFAULTS.thetaKnee;
      const hi = spec.log10DHigh ?? KNEE_DEFAULTS.log10DHigh;
      const lo = spec.log10DLow ?? KNEE_DEFAULTS.log10DLow;
      return (t) => 10 ** (t <= tk ? hi : hi + ((lo - hi) * (t - tk)) / (1 - tk));
    }
    case 'colclasure-nmc532':
      // Colclasure et al., NMC532, as used in the open-source MPET code; the polynomial gives cm²/s.
      return (y) => {
        const p = -2319 * y ** 10 + 6642 * y ** 9 - 5269 * y ** 8 - 3319 * y ** 7 + 10038 * y ** 6 - 9806 * y ** 5
          + 5817 * y ** 4 - 2286 * y ** 3 + 575.3 * y ** 2 - 83.16 * y - 9.292;
        return 2e4 * 10 ** p * 1e-4;
      };
    case 'oregan2022-nmc811':
      // O'Regan et al., Electrochim. Acta 425 (2022) 140700, ×2.7 as in their parameter set.
      return (t) => 2.7 * 10 ** (-13.96 - 0.9231 * Math.exp(-((t - 0.3216) ** 2) / 0.002534)
        - 0.4066 * Math.exp(-((t - 0.4532) ** 2) / 0.003926) - 0.993 * Math.exp(-((t - 0.8098) ** 2) / 0.09924));
    case 'constant': {
      const d = spec.D_m2_s;
      return () => d;
    }
  }
}

/** Log-linear interpolation of user data; θ outside the table is clamped to its end values. */
function tableDiffusivity(theta: number[], d: number[], warn: (msg: string) => void): (t: number) => number {
  const lo = theta[0], hi = theta[theta.length - 1];
  if (lo > 0 || hi < 1) warn(`material.diffusivity.table covers θ ∈ [${lo}, ${hi}], not [0, 1]: D is held at its end values outside`);
  const logd = d.map(Math.log10);
  return (t) => {
    if (t <= lo) return d[0];
    if (t >= hi) return d[d.length - 1];
    let a = 0, b = theta.length - 1;
    while (b - a > 1) {
      const m = (a + b) >> 1;
      if (theta[m] <= t) a = m; else b = m;
    }
    const f = (t - theta[a]) / (theta[b] - theta[a]);
    return 10 ** (logd[a] + f * (logd[b] - logd[a]));
  };
}

/**
 * Φ(θ)/D_scale tabulated on N+1 evenly spaced θ in [0, 1] (float32, as the kernels read it), with
 * linear interpolation between nodes (the effective D is piecewise constant on intervals of 1/N).
 * Two choices keep float32 differences Φ̃_j − Φ̃_i accurate where D spans decades:
 * - the origin of Φ is put at θref (the initial θ), so values in the working range are small rather
 *   than a large constant plus tiny changes;
 * - D_scale is the largest D over the θ range the run reaches, so values there are O(1).
 */
export interface KirchhoffTable {
  /** Φ(θ_i)/D_scale at θ_i = i/N, i = 0..N, with Φ(θref) = 0 */
  phi: Float32Array;
  N: number;
  /** m²/s */
  D_scale: number;
  thetaRef: number;
  /** D(θ) in m²/s (float64, for the time-step bound and for reports) */
  D: (theta: number) => number;
}

export function kirchhoffTable(D: (theta: number) => number, options: { N?: number; thetaRef?: number; scaleRange?: [number, number] } = {}): KirchhoffTable {
  const N = options.N ?? 4096;
  const thetaRef = options.thetaRef ?? 0;
  const [lo, hi] = options.scaleRange ?? [0, 1];
  const D_scale = maxDiffusivity(D, lo, hi, 8 * N);
  const integral = new Float64Array(N + 1);
  const sub = 8; // Simpson on 8 sub-intervals per table interval: exact to float32 for these D
  for (let i = 0; i < N; i++) {
    const a = i / N, h = 1 / N / sub;
    let s = 0;
    for (let k = 0; k < sub; k++) {
      const x = a + k * h;
      s += (h / 6) * (D(x) + 4 * D(x + h / 2) + D(x + h));
    }
    integral[i + 1] = integral[i] + s / D_scale;
  }
  // Φ at θref by linear interpolation of the float64 table, then shift
  const xr = thetaRef * N, ir = Math.min(N - 1, Math.floor(xr));
  const atRef = integral[ir] + (xr - ir) * (integral[ir + 1] - integral[ir]);
  const phi = Float32Array.from(integral, (v) => v - atRef);
  return { phi, N, D_scale, thetaRef, D };
}

/** Φ/D_scale at θ (linear interpolation; linear extrapolation outside [0, 1]). */
export function phiOf(table: KirchhoffTable, theta: number): number {
  const { phi, N } = table;
  const x = theta * N;
  const i = Math.min(Math.max(Math.floor(x), 0), N - 1);
  const f = x - i;
  return phi[i] + f * (phi[i + 1] - phi[i]);
}

/** Inverse of phiOf: the θ whose Φ/D_scale is `value` (binary search, linear inside the interval). */
export function thetaOfPhi(table: KirchhoffTable, value: number): number {
  const { phi, N } = table;
  let a = 0, b = N;
  if (value <= phi[0]) b = 1;
  else if (value >= phi[N]) a = N - 1;
  else {
    while (b - a > 1) {
      const m = (a + b) >> 1;
      if (phi[m] <= value) a = m; else b = m;
    }
  }
  return (a + (value - phi[a]) / (phi[a + 1] - phi[a])) / N;
}

/** Largest D on [lo, hi] (m²/s), scanning at the table's resolution. */
export function maxDiffusivity(D: (theta: number) => number, lo: number, hi: number, samples = 4096): number {
  let m = 0;
  for (let i = 0; i <= samples; i++) m = Math.max(m, D(lo + ((hi - lo) * i) / samples));
  return m;
}
