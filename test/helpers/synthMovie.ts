/**
 * Synthetic operando movies with known answers: particles are bright disks on a dark background; each
 * frame, the particle's rim has delithiated (brighter by `brightening`, i.e. ΔI/I0 = brightening
 * there) and a Li-rich core (ΔI/I0 = 0) shrinks, possibly off-centre. Optional stage drift (the content
 * of frame i sits at its reference position + drift(i)) and Gaussian noise. Pixels are area-averaged
 * over a supersampling grid so that sub-pixel geometry and drift are rendered faithfully.
 */
import { writeTiffStack, type TiffSampleType } from '../../src/io/tiffWrite';
import { rng as mulberry32 } from './random';

export interface SynthParticle {
  /** centre, pixel coordinates (pixel (row, col) has its centre at (col + 0.5, row + 0.5)) */
  cx: number;
  cy: number;
  radius_px: number;
  /** core centre offset from the particle centre, pixels, per frame (or constant) */
  coreOffset?: [number, number] | ((frame: number, s: number) => [number, number]);
  /** core radius in pixels as a function of progress s ∈ [0, 1] (default R·√(1 − s)) */
  coreRadius?: (s: number, frame: number) => number;
  /** intensity of the particle in the reference (default options.particleIntensity) */
  intensity?: number;
}

export interface SynthOptions {
  width: number;
  height: number;
  frames: number;
  particles: SynthParticle[];
  background?: number;
  particleIntensity?: number;
  /** ΔI/I0 of reacted (delithiated) particle pixels; default 0.3 */
  brightening?: number;
  /** content of frame i sits at reference position + drift(i) (pixels) */
  drift?: (frame: number) => [number, number];
  /** Gaussian noise σ in counts; default 0 */
  noise?: number;
  seed?: number;
  sampleType?: TiffSampleType;
  /** supersampling per axis; default 4 */
  supersample?: number;
  /** progress s of frame i; default i / (frames − 1) */
  progress?: (frame: number) => number;
}

export type SynthFrame = Uint8Array | Uint16Array | Float32Array;


/** Renders all frames in memory (small test movies). */
export function synthFrames(o: SynthOptions): SynthFrame[] {
  const { width, height, frames } = o;
  const bg = o.background ?? 100, ip = o.particleIntensity ?? 1000, k = o.brightening ?? 0.3;
  const ss = o.supersample ?? 4;
  const rand = mulberry32(o.seed ?? 1);
  const gauss = () => {
    const u = Math.max(1e-12, rand()), v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const type = o.sampleType ?? 'uint16';
  const out: SynthFrame[] = [];
  for (let f = 0; f < frames; f++) {
    const s = o.progress ? o.progress(f) : frames > 1 ? f / (frames - 1) : 0;
    const [ddx, ddy] = o.drift ? o.drift(f) : [0, 0];
    const geo = o.particles.map((p) => {
      const off = typeof p.coreOffset === 'function' ? p.coreOffset(f, s) : p.coreOffset ?? [0, 0];
      const rc = p.coreRadius ? p.coreRadius(s, f) : p.radius_px * Math.sqrt(Math.max(0, 1 - s));
      return { ...p, ccx: p.cx + off[0], ccy: p.cy + off[1], rc, ip: p.intensity ?? ip };
    });
    const img = type === 'uint8' ? new Uint8Array(width * height) : type === 'uint16' ? new Uint16Array(width * height) : new Float32Array(width * height);
    for (let r = 0; r < height; r++) {
      for (let c = 0; c < width; c++) {
        let acc = 0;
        for (let sy = 0; sy < ss; sy++) {
          for (let sx = 0; sx < ss; sx++) {
            // scene coordinates of this sub-sample: the frame shows the scene moved by the drift
            const x = c + (sx + 0.5) / ss - ddx, y = r + (sy + 0.5) / ss - ddy;
            let v = bg;
            for (const g of geo) {
              const dx = x - g.cx, dy = y - g.cy;
              if (dx * dx + dy * dy > g.radius_px * g.radius_px) continue;
              const ex = x - g.ccx, ey = y - g.ccy;
              const inCore = ex * ex + ey * ey <= g.rc * g.rc;
              v = g.ip * (inCore ? 1 : 1 + k);
            }
            acc += v;
          }
        }
        let v = acc / (ss * ss);
        if (o.noise) v += o.noise * gauss();
        if (type === 'float32') img[r * width + c] = v;
        else img[r * width + c] = Math.max(0, Math.min(type === 'uint8' ? 255 : 65535, Math.round(v)));
      }
    }
    out.push(img);
  }
  return out;
}

/** Renders and writes a movie as a TIFF stack (ImageJ metadata when pixel_um / frame_s are given). */
export async function writeSynthMovie(path: string, o: SynthOptions, meta: { pixel_um?: number; frame_s?: number } = {}): Promise<SynthFrame[]> {
  const frames = synthFrames(o);
  const imagej = meta.pixel_um !== undefined || meta.frame_s !== undefined ? meta : undefined;
  await writeTiffStack(path, frames, { width: o.width, height: o.height, sampleType: o.sampleType ?? 'uint16', imagej });
  return frames;
}
