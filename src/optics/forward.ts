/**
 * Optical forward model (SPEC §2): a simulated θ field seen through the microscope.
 *   I = I_base·(1 + κ·(θ0 − θ)) inside the particle, 0 outside; blurred by a Gaussian PSF (σ);
 *   sampled at the camera's pixel centres. The reference frame I_0 is the same particle at θ0, so
 *   ΔI/I0 = κ·blur(mask·(θ0 − θ)) / blur(mask), independent of I_base.
 * The blur is separable: rows then columns, each a short Gaussian gather (cut at 3.5σ).
 */
import { checkNumber } from '../checks';
import { UserError } from '../errors';
import { scanlineRows } from '../model/geometry';
import type { ParticleGrid } from '../model/grid';
import { WasmGather } from './gatherWasm';

export interface OpticsParams {
  kappa: number;
  psfSigma_um: number;
  pixel_um: number;
}

export interface CameraImage {
  width: number;
  height: number;
  pixel_um: number;
  /** ΔI/I0 per pixel, NaN outside the particle mask */
  diff: Float32Array;
  /** 1 where the pixel centre lies inside the particle outline */
  mask: Uint8Array;
  /** physical position (µm, y up) of the top-left corner of pixel (0, 0) */
  origin_um: [number, number];
}

/** Weights w[p][j] of grid positions xs[j] for camera pixel centres cs[p] (sparse: start index + values). */
function gatherWeights(cs: Float64Array, xs: Float64Array, sigma: number, pixel: number, h: number) {
  const starts = new Int32Array(cs.length);
  const weights: Float64Array[] = [];
  const norm = new Float64Array(cs.length);
  for (let p = 0; p < cs.length; p++) {
    const c = cs[p];
    const reach = sigma > 0 ? 3.5 * sigma : pixel / 2;
    const j0 = Math.max(0, Math.ceil((c - reach - xs[0]) / h));
    const j1 = Math.min(xs.length - 1, Math.floor((c + reach - xs[0]) / h));
    const w = new Float64Array(Math.max(0, j1 - j0 + 1));
    for (let j = j0; j <= j1; j++) {
      const d = xs[j] - c;
      w[j - j0] = sigma > 0 ? Math.exp((-0.5 * d * d) / (sigma * sigma)) : 1;
    }
    starts[p] = j0;
    weights.push(w);
    // the weights' sum over the whole (unbounded) lattice of grid positions, so that a field that
    // is 1 everywhere, outside the grid too, maps to 1 (intensityImage)
    let z = 0;
    const k0 = Math.ceil((c - reach - xs[0]) / h), k1 = Math.floor((c + reach - xs[0]) / h);
    for (let k = k0; k <= k1; k++) {
      const d = xs[0] + k * h - c;
      z += sigma > 0 ? Math.exp((-0.5 * d * d) / (sigma * sigma)) : 1;
    }
    norm[p] = z > 0 ? 1 / z : 0;
  }
  return { starts, weights, norm };
}

/**
 * The camera for a grid: pixel layout (centred on the grid, covering it plus 3σ), the separable
 * blur weights and the particle mask. Built once per problem; `forwardModel` then costs two short
 * gathers per frame.
 */
export interface Camera {
  width: number;
  height: number;
  pixel_um: number;
  origin_um: [number, number];
  mask: Uint8Array;
  kappa: number;
  grid: { nx: number; ny: number };
  wx: ReturnType<typeof gatherWeights>;
  wy: ReturnType<typeof gatherWeights>;
}

/**
 * Where the camera's pixels lie on the particle's grid: `origin_um` is the top-left corner of pixel
 * (0, 0) in the grid's physical coordinates (µm, y up), `width` × `height` pixels. A synthetic field
 * of view (src/synth/) places each particle's pixels where they fall in the whole frame.
 */
export interface CameraLayout {
  origin_um: [number, number];
  width: number;
  height: number;
}

/**
 * The camera for `grid` with the config's optics (κ, PSF σ in µm, camera pixel in µm); see Camera.
 * Without `layout`, the pixels are centred on the grid and cover it plus 3σ.
 */
export function createCamera(grid: ParticleGrid, optics: OpticsParams, layout?: CameraLayout): Camera {
  checkNumber('createCamera: optics.pixel_um', optics?.pixel_um, { above: 0 });
  checkNumber('createCamera: optics.psfSigma_um', optics.psfSigma_um, { min: 0 });
  const { nx, ny, spacing_um: h, x0_um, yTop_um } = grid;
  const pix = optics.pixel_um, sigma = optics.psfSigma_um;
  const xc = x0_um + (nx * h) / 2, yc = yTop_um - (ny * h) / 2;
  const width = layout?.width ?? 2 * Math.ceil(((nx * h) / 2 + 3 * sigma) / pix);
  const height = layout?.height ?? 2 * Math.ceil(((ny * h) / 2 + 3 * sigma) / pix);
  const origin_um: [number, number] = layout ? [layout.origin_um[0], layout.origin_um[1]] : [xc - (width / 2) * pix, yc + (height / 2) * pix];
  const camX = Float64Array.from({ length: width }, (_, p) => origin_um[0] + (p + 0.5) * pix);
  // distances below the grid's top edge, so that rows grow the same way on both grids
  const camDown = Float64Array.from({ length: height }, (_, q) => yTop_um - origin_um[1] + (q + 0.5) * pix);
  const gridX = Float64Array.from({ length: nx }, (_, j) => x0_um + (j + 0.5) * h);
  const gridDown = Float64Array.from({ length: ny }, (_, i) => (i + 0.5) * h);
  const mask = new Uint8Array(width * height);
  const verts = grid.outline.vertices;
  // scanline fill: a pixel centre is inside when an odd number of the outline's crossings of its
  // row lie to its right — insidePolygon's even-odd rule with the same crossing arithmetic, so the
  // mask is identical, in O(vertices + crossings + pixels) instead of O(vertices × pixels)
  const crossings = scanlineRows(verts, origin_um[1], pix, height);
  for (let q = 0; q < height; q++) {
    const xs = crossings[q];
    for (let p = 0, k = 0; p < width; p++) {
      while (k < xs.length && xs[k] <= camX[p]) k++;
      mask[q * width + p] = (xs.length - k) & 1;
    }
  }
  return {
    width, height, pixel_um: pix, origin_um, mask, kappa: optics.kappa, grid: { nx, ny },
    wx: gatherWeights(camX, gridX, sigma, pix, h),
    wy: gatherWeights(camDown, gridDown, sigma, pix, h),
  };
}

/**
 * Which sums a frame needs: ΔI/I0 is NaN off the camera's mask, so only the mask's pixels are
 * computed — the columns that hold a mask pixel in the row pass, over the grid rows that the mask
 * rows' PSF windows reach, and each camera row's first-to-last mask pixel in the column pass. The
 * pixels computed are the same sums, term for term, as a pass over every pixel. fig4c's 62² camera
 * (0.05 µm pixels) has 1 804 mask pixels in 48 of its 62 columns: a warm forwardModel 0.40 → 0.32 ms.
 */
interface GatherPlan {
  /** the camera columns with a mask pixel */
  cols: Int32Array;
  /** [first, end) grid rows of the row pass */
  rows: [number, number];
  /** per camera row q: [first, end) pixel columns of the column pass (empty: first = end) */
  spans: Int32Array;
}

function gatherPlan(camera: Camera): GatherPlan {
  const { width, height, mask, wy } = camera;
  const colHas = new Uint8Array(width), spans = new Int32Array(2 * height);
  let i0 = camera.grid.ny, i1 = 0;
  for (let q = 0; q < height; q++) {
    let p0 = -1, p1 = -1;
    for (let p = 0; p < width; p++) {
      if (!mask[q * width + p]) continue;
      if (p0 < 0) p0 = p;
      p1 = p + 1;
      colHas[p] = 1;
    }
    if (p0 < 0) continue;
    spans[2 * q] = p0;
    spans[2 * q + 1] = p1;
    i0 = Math.min(i0, wy.starts[q]);
    i1 = Math.max(i1, wy.starts[q] + wy.weights[q].length);
  }
  const cols = Int32Array.from(Array.from(colHas).flatMap((h, p) => (h ? [p] : [])));
  return { cols, rows: [Math.min(i0, i1), i1], spans };
}

/**
 * What forwardModel keeps per camera between frames: the denominator blur(mask) depends only on
 * which cells are inside (finite θ), the same for every frame of a run, so it is computed once per
 * inside pattern (checked on every call, O(cells)); the row pass's buffer is reused, and so is the
 * WebAssembly gather (gatherWasm.ts) where the engine has wasm SIMD.
 */
interface FrameCache {
  /** 1 where θ was finite when `den` was computed */
  inside: Uint8Array;
  /** the per-pixel denominator Σ_q wy·Σ_p wx over inside cells, in forwardModel's order of sums (mask pixels only) */
  den: Float64Array;
  /** θ0 − θ where finite, 0 elsewhere (θ0 of the last call) */
  u: Float64Array;
  tmp: Float64Array;
  plan: GatherPlan;
  /** the SIMD gather, made on the first call that may use it (null: no wasm SIMD) */
  wasm?: WasmGather | null;
}
const frameCaches = new WeakMap<Camera, FrameCache>();

/**
 * Σ_j wx[p][j]·src[i][j] for grid rows i and pixels p, then Σ_k wy[q][k]·tmp[k][p]: dst[q][p], for
 * the pixels of `plan` (dst elsewhere is left as it is). WasmGather does the same sums in the same
 * order, two at a time.
 */
function separableGather(src: Float64Array, camera: Camera, plan: GatherPlan, tmp: Float64Array, dst: Float64Array): void {
  const { width, height, wx, wy } = camera;
  const nx = camera.grid.nx;
  const { cols, rows, spans } = plan;
  for (let i = rows[0]; i < rows[1]; i++) {
    const row = i * nx;
    for (let c = 0; c < cols.length; c++) {
      const p = cols[c];
      const w = wx.weights[p], j0 = row + wx.starts[p];
      let acc = 0;
      for (let k = 0; k < w.length; k++) acc += w[k] * src[j0 + k];
      tmp[i * width + p] = acc;
    }
  }
  for (let q = 0; q < height; q++) {
    const w = wy.weights[q], i0 = wy.starts[q];
    for (let p = spans[2 * q]; p < spans[2 * q + 1]; p++) {
      let acc = 0;
      for (let k = 0; k < w.length; k++) acc += w[k] * tmp[(i0 + k) * width + p];
      dst[q * width + p] = acc;
    }
  }
}

/**
 * The camera frame of a θ field (NaN outside the particle), relative to θ0. The numerator and the
 * denominator are each one separable gather over the grid, with cells outside contributing exact
 * zeros (the same sums, term for term, as skipping them); the denominator is cached per camera.
 * `kernel: 'js'` keeps the gather in JS (the tests compare the two; the bits are the same).
 */
export function forwardModel(theta: Float32Array, camera: Camera, theta0: number, kernel: 'auto' | 'js' = 'auto'): CameraImage {
  const { width, height, mask } = camera;
  const { nx, ny } = camera.grid;
  const n = nx * ny;
  if (!(theta instanceof Float32Array) || theta.length !== n) throw new UserError(`forwardModel: theta has ${theta?.length} values, but the camera's grid is ${nx}×${ny} = ${n} cells: give that grid's θ field (Float32Array, row-major)`);
  checkNumber('forwardModel: theta0', theta0);
  const old = frameCaches.get(camera);
  const u = old?.u ?? new Float64Array(n);
  const same = fieldInput(theta, theta0, u, old?.inside);
  let c = old as FrameCache;
  if (!same) {
    // a new camera, or another inside pattern than the cached one: the denominator again
    const inside = new Uint8Array(n), ones = new Float64Array(n);
    for (let i = 0; i < n; i++) ones[i] = inside[i] = theta[i] === theta[i] ? 1 : 0;
    const tmp = old?.tmp ?? new Float64Array(ny * width);
    const plan = old?.plan ?? gatherPlan(camera);
    c = { inside, den: new Float64Array(width * height), u, tmp, plan, wasm: old?.wasm };
    gather(c, ones, camera, kernel, c.den);
    frameCaches.set(camera, c);
  }
  const num = gather(c, u, camera, kernel);
  return { width, height, pixel_um: camera.pixel_um, diff: cameraRatio(num, c.den, mask, camera.kappa), mask, origin_um: camera.origin_um };
}

// forwardModel's loops as functions of their own: V8 compiles each with the feedback of its own
// loop (one loop of a longer function compiled on its own first runs into the code after it
// without feedback, and is thrown away and compiled again, on a background thread that a run's
// stepping threads share the cores with)

/** u = θ0 − θ where θ is finite, 0 elsewhere; whether the inside pattern equals `inside` (false without one) */
function fieldInput(theta: Float32Array, theta0: number, u: Float64Array, inside: Uint8Array | undefined): boolean {
  let same = inside !== undefined;
  for (let i = 0; i < u.length; i++) {
    const t = theta[i], ins = t === t; // t === t: inside (not NaN)
    if (same && (inside as Uint8Array)[i] !== +ins) same = false;
    u[i] = ins ? theta0 - t : 0;
  }
  return same;
}

/** ΔI/I0 = κ·num / den on the mask (den > 0), NaN elsewhere */
function cameraRatio(num: Float64Array, den: Float64Array, mask: Uint8Array, kappa: number): Float32Array {
  const diff = new Float32Array(mask.length);
  for (let i = 0; i < mask.length; i++) {
    const d = den[i];
    diff[i] = mask[i] && d > 0 ? (kappa * num[i]) / d : NaN;
  }
  return diff;
}

/** blur(src) at the plan's pixels, through the wasm gather where there is one (its buffer) or into `into` / a new array */
function gather(c: FrameCache, src: Float64Array, camera: Camera, kernel: 'auto' | 'js', into?: Float64Array): Float64Array {
  if (kernel === 'auto' && c.wasm === undefined) {
    c.wasm = WasmGather.create({ width: camera.width, height: camera.height, nx: camera.grid.nx, ny: camera.grid.ny, wx: camera.wx, wy: camera.wy, ...c.plan });
  }
  if (kernel === 'auto' && c.wasm) {
    const out = c.wasm.run(src);
    if (!into) return out;
    into.set(out);
    return into;
  }
  const dst = into ?? new Float64Array(camera.width * camera.height);
  separableGather(src, camera, c.plan, c.tmp, dst);
  return dst;
}

/**
 * The camera image of an intensity on the grid (SPEC §2 before the ratio): Σ w·I over the grid cells
 * where `scene` is finite (NaN cells contribute nothing), with the PSF weights normalised over the
 * whole lattice, so a scene of constant intensity c everywhere gives c in every pixel. Returns the
 * blurred intensity at each camera pixel centre, row-major [height][width].
 */
export function intensityImage(scene: Float32Array, camera: Camera): Float64Array {
  const { width, height, wx, wy } = camera;
  const { nx, ny } = camera.grid;
  const tmp = new Float64Array(ny * width);
  for (let i = 0; i < ny; i++) {
    const row = i * nx;
    for (let p = 0; p < width; p++) {
      const w = wx.weights[p], j0 = wx.starts[p];
      let acc = 0;
      for (let k = 0; k < w.length; k++) {
        const v = scene[row + j0 + k];
        if (v === v) acc += w[k] * v;
      }
      tmp[i * width + p] = acc * wx.norm[p];
    }
  }
  const out = new Float64Array(width * height);
  for (let q = 0; q < height; q++) {
    const w = wy.weights[q], i0 = wy.starts[q];
    for (let p = 0; p < width; p++) {
      let acc = 0;
      for (let k = 0; k < w.length; k++) acc += w[k] * tmp[(i0 + k) * width + p];
      out[q * width + p] = acc * wy.norm[q];
    }
  }
  return out;
}
