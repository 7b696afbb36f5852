/**
 * A synthetic microscope field of view (SPEC §2's forward model, whole frames): particles placed at
 * their positions, each seen through the Gaussian PSF on the camera's pixel grid, on a background,
 * with an optional smooth base-intensity texture, then exposed on a 16-bit sensor with shot and read
 * noise (src/optics/sensor.ts).
 *
 * Intensities are expected photo-electrons per pixel. The scene before the blur is
 *   background · photons · (1 + a·T_b)                  outside the particles
 *   photons · (1 + a·T_p) · (1 + κ·(θ0 − θ))            inside a particle
 * (T_b, T_p: smooth random textures of unit variance, a = texture.amplitude), so the ΔI/I0 that
 * `analyze` measures, (I_t − I_0)/I_0 of the noise-free frames, is κ·(θ0 − θ) seen through the PSF —
 * the forward model's ΔI/I0 (src/optics/forward.ts) — wherever the PSF reaches no background.
 * Positions are image coordinates as in analyze (SPEC §6): µm from the top-left corner of the
 * field, x right, y down; the particle's centre of mass sits at its position.
 */
import { ConfigError } from '../model/config';
import type { ParticleGrid } from '../model/grid';
import { createCamera, forwardModel, intensityImage, type Camera } from '../optics/forward';
import { blurImage, exposeFrame, sampleBilinear, smoothTexture, type SensorNoise } from '../optics/sensor';
import { unreactedStats, type UnreactedStats } from '../observables/unreacted';

/** The camera and sensor of a synthetic movie (the resolved synth section plus the optics). */
export interface SynthCamera {
  pixel_um: number;
  psfSigma_um: number;
  /** [width, height] in pixels; null: the particles plus margin_um on every side */
  fieldOfView_px: [number, number] | null;
  margin_um: number;
  /** expected photo-electrons per pixel of the particle's base intensity */
  photons: number;
  /** background intensity as a fraction of `photons` (the particle is brighter when < 1) */
  background: number;
  texture: { amplitude: number; correlation_um: number };
  noise: SensorNoise;
  seed: number;
}

/** A particle to place: its grid (the simulation's), θ0, κ and threshold, and where it goes. */
export interface SceneParticleInput {
  grid: ParticleGrid;
  theta0: number;
  kappa: number;
  /** ΔI/I0 below which a pixel is unreacted (optics.unreactedThreshold) */
  threshold: number;
  /** centre of mass, µm, image coordinates (x right, y down); null: the field's centre */
  position_um: [number, number] | null;
  /** names the particle in messages, e.g. `synth.particles[1]` */
  key: string;
}

export interface PlacedParticle {
  /** position in the input list */
  index: number;
  key: string;
  /** 1, 2, …: raster order of each particle's first mask pixel, the order analyze numbers them in */
  id: number;
  /** centre of mass, µm, image coordinates */
  position_um: [number, number];
  /** the pixels of the frame the particle's grid reaches (its PSF included) */
  crop: { col0: number; row0: number; width: number; height: number };
  /** the forward model's camera on the crop (κ, PSF, the crop's pixels) */
  camera: Camera;
  /** mask pixels (pixel centres inside the outline) */
  pixels: number;
  theta0: number;
  threshold: number;
  grid: ParticleGrid;
  /** photons per grid cell of the base intensity (texture included), NaN outside */
  base: Float32Array;
  /** the background's photons per grid cell (what the particle covers) */
  backgroundAtCells: Float32Array;
}

/** The forward model's measurement of one particle in one frame (SPEC §2), in the frame's image coordinates. */
export interface ParticleMeasurement extends UnreactedStats {
  /** ΔI/I0 on the particle's crop, NaN outside its mask */
  diff: Float32Array;
}

export interface SynthScene {
  width: number;
  height: number;
  pixel_um: number;
  camera: SynthCamera;
  /** in input order */
  particles: PlacedParticle[];
  /** expected photons of the background alone (blurred), row-major [height][width] */
  background: Float64Array;
  /**
   * The noise-free frame: expected photo-electrons per pixel, for θ fields `fields[i]` of particle i
   * (input order; NaN outside the particle, as the solvers give them).
   */
  expected(fields: Float32Array[]): Float64Array;
  /** One exposure of `expected` as frame `frame` of the movie (the frame picks the noise stream). */
  expose(expected: ArrayLike<number>, frame: number): { frame: Uint16Array; saturated: number };
  /** The forward model's ΔI/I0 metrics of particle i for field θ (no noise, no texture; SPEC §2). */
  measure(i: number, field: Float32Array): ParticleMeasurement;
}

/** extent of an outline around its centre of mass, µm: left, right, up, down (physical, y up) */
function extents(grid: ParticleGrid): { left: number; right: number; up: number; down: number } {
  const [cx, cy] = grid.outline.centroid;
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (const [x, y] of grid.outline.vertices) {
    if (x < minX) minX = x; if (x > maxX) maxX = x;
    if (y < minY) minY = y; if (y > maxY) maxY = y;
  }
  return { left: cx - minX, right: maxX - cx, up: maxY - cy, down: cy - minY };
}

const fmt = (v: number) => String(Number(v.toPrecision(4)));
/** the noise streams of a seed: textures, then one per frame */
const STREAM_TEXTURE_PARTICLE = 1, STREAM_TEXTURE_BACKGROUND = 2, STREAM_FRAME0 = 1000;

/**
 * Places the particles in the field of view (checking that each lies inside it and that no two
 * overlap or touch), draws the textures and builds each particle's camera. Throws ConfigError naming
 * the particle, its position and what is allowed.
 */
export function createSynthScene(inputs: SceneParticleInput[], cam: SynthCamera): SynthScene {
  const pix = cam.pixel_um, sigma = cam.psfSigma_um;
  if (!inputs.length) throw new ConfigError('synth: no particle to place');
  // a particle must sit this far inside the frame and from its neighbours, so that analyze sees it
  // whole and apart (its segmentation drops particles touching the border and merges touching ones)
  const clearance_um = Math.max(2 * pix, 2 * sigma);
  const gap_um = Math.max(2 * pix, 3 * sigma);
  const margin = Math.max(cam.margin_um, clearance_um);
  const ext = inputs.map((p) => extents(p.grid));
  let width: number, height: number;
  const pos: [number, number][] = inputs.map((p) => (p.position_um ? [p.position_um[0], p.position_um[1]] : [NaN, NaN]));
  if (cam.fieldOfView_px) {
    [width, height] = cam.fieldOfView_px;
    pos.forEach((p, i) => {
      // an unplaced (single) particle: at the centre of the field
      if (!Number.isFinite(p[0])) { p[0] = (width * pix) / 2 - (ext[i].right - ext[i].left) / 2; p[1] = (height * pix) / 2 - (ext[i].down - ext[i].up) / 2; }
    });
  } else {
    pos.forEach((p, i) => { if (!Number.isFinite(p[0])) { p[0] = margin + ext[i].left; p[1] = margin + ext[i].up; } });
    width = Math.ceil((Math.max(...pos.map((p, i) => p[0] + ext[i].right)) + margin) / pix - 1e-9);
    height = Math.ceil((Math.max(...pos.map((p, i) => p[1] + ext[i].down)) + margin) / pix - 1e-9);
    if (width * height > 2 ** 26) throw new ConfigError(`synth: the particles' positions need a ${width}×${height}-pixel field at ${pix} µm/pixel: at most 2^26 pixels are allowed (check synth.particles[].position_um, in µm)`);
  }
  const W_um = width * pix, H_um = height * pix;
  pos.forEach((p, i) => {
    const e = ext[i], key = inputs[i].key;
    const x0 = p[0] - e.left, x1 = p[0] + e.right, y0 = p[1] - e.up, y1 = p[1] + e.down;
    if (x0 < clearance_um || y0 < clearance_um || x1 > W_um - clearance_um || y1 > H_um - clearance_um) {
      const where = inputs[i].position_um ? `${key}.position_um = [${fmt(p[0])}, ${fmt(p[1])}]` : `${key} (centred)`;
      throw new ConfigError(`${where} does not fit the field of view (${width}×${height} px = ${fmt(W_um)}×${fmt(H_um)} µm): the particle spans x ${fmt(x0)} … ${fmt(x1)} µm, y ${fmt(y0)} … ${fmt(y1)} µm and must stay ${fmt(clearance_um)} µm inside the edges; move it or enlarge synth.fieldOfView_px`);
    }
  });

  // textures on the frame's pixels (zero when the amplitude is 0)
  const a = cam.texture.amplitude;
  const corr_px = cam.texture.correlation_um / pix;
  const tp = a > 0 ? smoothTexture(width, height, corr_px, cam.seed, STREAM_TEXTURE_PARTICLE) : null;
  const tb = a > 0 ? smoothTexture(width, height, corr_px, cam.seed, STREAM_TEXTURE_BACKGROUND) : null;
  const bgScene = new Float64Array(width * height);
  const bg = cam.photons * cam.background;
  for (let i = 0; i < bgScene.length; i++) bgScene[i] = bg * Math.max(0, 1 + (tb ? a * tb[i] : 0));
  const background = blurImage(bgScene, width, height, sigma / pix);

  const placed: PlacedParticle[] = inputs.map((inp, i) => {
    const g = inp.grid, h = g.spacing_um, [cx, cy] = g.outline.centroid, [px, py] = pos[i];
    // the grid's edges in image coordinates, and the pixels its PSF reaches
    const reach = 3.5 * sigma + pix;
    const left = px + (g.x0_um - cx), right = left + g.nx * h;
    const top = py - (g.yTop_um - cy), bottom = top + g.ny * h;
    const col0 = Math.max(0, Math.floor((left - reach) / pix)), col1 = Math.min(width, Math.ceil((right + reach) / pix));
    const row0 = Math.max(0, Math.floor((top - reach) / pix)), row1 = Math.min(height, Math.ceil((bottom + reach) / pix));
    const crop = { col0, row0, width: col1 - col0, height: row1 - row0 };
    // top-left corner of crop pixel (0, 0) in the grid's physical coordinates (y up)
    const origin: [number, number] = [cx + (col0 * pix - px), cy - (row0 * pix - py)];
    const camera = createCamera(g, { kappa: inp.kappa, psfSigma_um: sigma, pixel_um: pix }, { origin_um: origin, width: crop.width, height: crop.height });
    let pixels = 0;
    for (const m of camera.mask) pixels += m;
    const base = new Float32Array(g.nx * g.ny).fill(NaN), under = new Float32Array(g.nx * g.ny).fill(NaN);
    for (let r = 0; r < g.ny; r++) {
      for (let c = 0; c < g.nx; c++) {
        const k = r * g.nx + c;
        if (!g.inside[k]) continue;
        // the cell centre in frame pixel units
        const X = (left + (c + 0.5) * h) / pix, Y = (top + (r + 0.5) * h) / pix;
        base[k] = cam.photons * Math.max(0, 1 + (tp ? a * sampleBilinear(tp, width, height, X, Y) : 0));
        under[k] = sampleBilinear(bgScene, width, height, X, Y);
      }
    }
    return { index: i, key: inp.key, id: 0, position_um: pos[i], crop, camera, pixels, theta0: inp.theta0, threshold: inp.threshold, grid: g, base, backgroundAtCells: under };
  });

  // no two particles may overlap or come closer than the gap (pixel masks, grown by the gap)
  const gap_px = Math.ceil(gap_um / pix);
  const maskAt = (p: PlacedParticle, col: number, row: number) => {
    const c = col - p.crop.col0, r = row - p.crop.row0;
    return c >= 0 && r >= 0 && c < p.crop.width && r < p.crop.height && p.camera.mask[r * p.crop.width + c] === 1;
  };
  for (let i = 0; i < placed.length; i++) {
    for (let j = 0; j < i; j++) {
      const A = placed[i], B = placed[j];
      const c0 = Math.max(A.crop.col0, B.crop.col0 - gap_px), c1 = Math.min(A.crop.col0 + A.crop.width, B.crop.col0 + B.crop.width + gap_px);
      const r0 = Math.max(A.crop.row0, B.crop.row0 - gap_px), r1 = Math.min(A.crop.row0 + A.crop.height, B.crop.row0 + B.crop.height + gap_px);
      let overlap = false, close = false;
      for (let r = r0; r < r1 && !overlap; r++) {
        for (let c = c0; c < c1 && !overlap; c++) {
          if (!maskAt(A, c, r)) continue;
          if (maskAt(B, c, r)) { overlap = true; break; }
          if (close) continue;
          for (let dr = -gap_px; dr <= gap_px && !close; dr++) for (let dc = -gap_px; dc <= gap_px; dc++) if (maskAt(B, c + dc, r + dr)) { close = true; break; }
        }
      }
      if (overlap || close) {
        const at = (p: PlacedParticle) => `[${fmt(p.position_um[0])}, ${fmt(p.position_um[1])}] µm`;
        throw new ConfigError(`${A.key}.position_um = ${at(A)} ${overlap ? 'overlaps' : 'comes closer than ' + fmt(gap_um) + ' µm to'} ${B.key} at ${at(B)}: particles must be at least ${fmt(gap_um)} µm apart edge to edge (3σ of the PSF, 2 pixels at least) so that analyze can tell them apart; move them apart`);
      }
    }
  }
  // ids in analyze's order: raster order of each particle's first mask pixel
  const first = placed.map((p) => {
    for (let r = 0; r < p.crop.height; r++) for (let c = 0; c < p.crop.width; c++) if (p.camera.mask[r * p.crop.width + c]) return (p.crop.row0 + r) * width + p.crop.col0 + c;
    return Infinity;
  });
  [...placed.keys()].sort((x, y) => first[x] - first[y]).forEach((k, rank) => { placed[k].id = rank + 1; });
  placed.forEach((p, i) => {
    if (!p.pixels) throw new ConfigError(`${p.key}: the particle covers no camera pixel at optics.pixel_um = ${pix} µm; use a larger particle or smaller pixels`);
    void i;
  });

  const expected = (fields: Float32Array[]): Float64Array => {
    if (fields.length !== placed.length) throw new Error(`SynthScene.expected: ${fields.length} fields for ${placed.length} particles`);
    const out = Float64Array.from(background);
    placed.forEach((p, i) => {
      const f = fields[i], n = p.grid.nx * p.grid.ny;
      if (f.length !== n) throw new Error(`SynthScene.expected: field ${i} has ${f.length} cells, the particle's grid ${n}`);
      const kappa = p.camera.kappa;
      // the particle's scene minus the background it covers (the background image already holds it)
      const scene = new Float32Array(n);
      for (let k = 0; k < n; k++) {
        const t = f[k];
        scene[k] = t === t && p.grid.inside[k] ? p.base[k] * (1 + kappa * (p.theta0 - t)) - p.backgroundAtCells[k] : NaN;
      }
      const img = intensityImage(scene, p.camera);
      for (let r = 0; r < p.crop.height; r++) {
        const dst = (p.crop.row0 + r) * width + p.crop.col0, src = r * p.crop.width;
        for (let c = 0; c < p.crop.width; c++) out[dst + c] += img[src + c];
      }
    });
    return out;
  };
  const expose = (exp: ArrayLike<number>, frame: number) => exposeFrame(exp, cam.noise, cam.seed, STREAM_FRAME0 + frame);
  const measure = (i: number, field: Float32Array): ParticleMeasurement => {
    const p = placed[i];
    const image = forwardModel(field, p.camera, p.theta0);
    const s = unreactedStats(image.diff, image.mask, p.crop.width, pix, p.threshold);
    // crop → frame coordinates
    const shift = (v: [number, number]): [number, number] => [v[0] + p.crop.col0 * pix, v[1] + p.crop.row0 * pix];
    return { ...s, particleCom_um: shift(s.particleCom_um), unreactedCom_um: s.unreactedCom_um ? shift(s.unreactedCom_um) : null, diff: image.diff };
  };
  return { width, height, pixel_um: pix, camera: cam, particles: placed, background, expected, expose, measure };
}
