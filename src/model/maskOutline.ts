/**
 * `particle.shape = "mask"`: a particle outline from an image file (PNG or TIFF, nonzero = particle),
 * read here (Node) and traced by src/model/maskTrace.ts (which the demo page uses too).
 */
import { ConfigError } from '../errors';
import path from 'node:path';
import { readImage } from '../io/movie';
import type { Outline } from './geometry';
import { outlineFromMask } from './maskTrace';

export { largestComponent, traceBoundary, smoothLoop } from './maskTrace';

async function readMaskImage(full: string, file: string): Promise<{ data: ArrayLike<number>; width: number; height: number }> {
  try {
    return await readImage(full);
  } catch (e) {
    // the reader names the full path first; name the config key and the value as written instead
    const msg = (e as Error).message.startsWith(full) ? (e as Error).message.slice(full.length).trim() : (e as Error).message;
    throw new ConfigError(`particle.file = '${file}' ${msg}`);
  }
}

/**
 * Outline of the particle in a mask image, centred on its centroid, in µm. Other pieces of the mask
 * are left out with a warning; holes inside the particle are filled (only the outer boundary is traced).
 */
export async function outlineFromMaskFile(file: string, pixel_um: number, baseDir = '.', warn: (msg: string) => void = () => {}): Promise<Outline> {
  const full = path.resolve(baseDir, file);
  const img = await readMaskImage(full, file);
  return outlineFromMask(img.data, img.width, img.height, pixel_um, `particle.file = '${file}'`, warn);
}
