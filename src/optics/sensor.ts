/**
 * The camera's side of a synthetic movie (SPEC §2, "optionally add shot and read noise"): a smooth
 * random base-intensity texture, a Gaussian blur on the pixel grid, and the sensor itself — photon
 * shot noise (Poisson on the expected photo-electron count), Gaussian read noise, the gain
 * (e⁻ per ADU), the ADC offset and 16-bit quantisation. All draws come from seeded streams
 * (src/optics/random.ts): the same seed gives the same bytes.
 */
import { createRandom } from './random';

export interface SensorNoise {
  /** Poisson photon noise on the expected count; false: the expected count itself */
  shot: boolean;
  /** Gaussian read noise, e⁻ rms */
  readNoise_e: number;
  /** e⁻ per ADU */
  gain_e_per_adu: number;
  /** ADC offset (dark level), ADU, added before quantisation */
  offset_adu: number;
}

/** Separable Gaussian blur of a row-major image (σ in pixels, cut at 3.5σ, edges clamped). */
export function blurImage(src: Float64Array | Float32Array, width: number, height: number, sigma_px: number): Float64Array {
  const out = Float64Array.from(src);
  if (!(sigma_px > 0)) return out;
  const r = Math.max(1, Math.ceil(3.5 * sigma_px));
  const k = new Float64Array(2 * r + 1);
  let z = 0;
  for (let i = -r; i <= r; i++) z += (k[i + r] = Math.exp((-0.5 * i * i) / (sigma_px * sigma_px)));
  for (let i = 0; i < k.length; i++) k[i] /= z;
  const tmp = new Float64Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let i = -r; i <= r; i++) acc += k[i + r] * out[row + Math.min(width - 1, Math.max(0, x + i))];
      tmp[row + x] = acc;
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let i = -r; i <= r; i++) acc += k[i + r] * tmp[Math.min(height - 1, Math.max(0, y + i)) * width + x];
      out[y * width + x] = acc;
    }
  }
  return out;
}

/**
 * A smooth random texture of zero mean and unit standard deviation: white Gaussian noise blurred
 * by a Gaussian of σ = `correlation_px` (the correlation length), then standardised. Seeded: the
 * same (width, height, correlation, seed, stream) gives the same values.
 */
export function smoothTexture(width: number, height: number, correlation_px: number, seed: number, stream: number): Float64Array {
  const rnd = createRandom(seed, stream);
  const white = new Float64Array(width * height);
  for (let i = 0; i < white.length; i++) white[i] = rnd.normal();
  const t = blurImage(white, width, height, correlation_px);
  let mean = 0;
  for (let i = 0; i < t.length; i++) mean += t[i];
  mean /= t.length;
  let v = 0;
  for (let i = 0; i < t.length; i++) v += (t[i] - mean) ** 2;
  const sd = Math.sqrt(v / t.length) || 1;
  for (let i = 0; i < t.length; i++) t[i] = (t[i] - mean) / sd;
  return t;
}

/** Bilinear sample of a row-major image at pixel coordinates (x, y) (pixel centres at integer + 0.5), edges clamped. */
export function sampleBilinear(img: ArrayLike<number>, width: number, height: number, x: number, y: number): number {
  const fx = Math.min(width - 1, Math.max(0, x - 0.5)), fy = Math.min(height - 1, Math.max(0, y - 0.5));
  const x0 = Math.floor(fx), y0 = Math.floor(fy);
  const x1 = Math.min(width - 1, x0 + 1), y1 = Math.min(height - 1, y0 + 1);
  const ax = fx - x0, ay = fy - y0;
  return (1 - ay) * ((1 - ax) * img[y0 * width + x0] + ax * img[y0 * width + x1]) + ay * ((1 - ax) * img[y1 * width + x0] + ax * img[y1 * width + x1]);
}

/**
 * One exposure of the sensor: `expected` photo-electrons per pixel → 16-bit ADU,
 *   ADU = round(offset + (Poisson(expected) + N(0, readNoise²)) / gain), clipped to [0, 65535].
 * `stream` picks the noise stream of `seed` (a movie uses one per frame). Returns the frame and the
 * number of pixels clipped at 65535 (saturated).
 */
export function exposeFrame(expected: ArrayLike<number>, noise: SensorNoise, seed: number, stream: number): { frame: Uint16Array; saturated: number } {
  const rnd = createRandom(seed, stream);
  const frame = new Uint16Array(expected.length);
  const g = noise.gain_e_per_adu, off = noise.offset_adu, read = noise.readNoise_e;
  let saturated = 0;
  for (let i = 0; i < expected.length; i++) {
    const lambda = Math.max(0, expected[i]);
    let e = noise.shot ? rnd.poisson(lambda) : lambda;
    if (read > 0) e += read * rnd.normal();
    const adu = Math.round(off + e / g);
    if (adu >= 65535) saturated++;
    frame[i] = adu < 0 ? 0 : adu > 65535 ? 65535 : adu;
  }
  return { frame, saturated };
}
