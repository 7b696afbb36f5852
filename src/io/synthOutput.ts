/**
 * The folder of `ionflux synth` (SPEC §7): movie.tif (ImageJ 16-bit stack with pixel size and
 * finterval; frame 0 = t = 0), capacity.csv (time_s,capacity_mAh_g, for `analyze --capacity`) and
 * truth.json. The CLI hands in the staging folder of writeOutputDir, so a failure leaves nothing.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeTiffStack } from './tiffWrite';
import type { SynthMovie } from '../synth/movie';

/** a CSV cell with enough digits for times and capacities (10 significant) */
const cell = (v: number) => String(Number(v.toPrecision(10)));

/** capacity.csv's text */
export function synthCapacityCsv(movie: Pick<SynthMovie, 'capacity'>): string {
  const { time_s, capacity_mAh_g } = movie.capacity;
  return ['time_s,capacity_mAh_g', ...time_s.map((t, i) => `${cell(t)},${cell(capacity_mAh_g[i])}`)].join('\n') + '\n';
}

/** Writes movie.tif, capacity.csv and truth.json into `dir` (an existing folder). Returns the file names. */
export async function writeSynthOutputs(dir: string, movie: SynthMovie): Promise<string[]> {
  await writeTiffStack(path.join(dir, 'movie.tif'), movie.frames, {
    width: movie.width, height: movie.height, sampleType: 'uint16',
    imagej: { pixel_um: movie.pixel_um, frame_s: movie.frame_s },
  });
  await writeFile(path.join(dir, 'capacity.csv'), synthCapacityCsv(movie));
  await writeFile(path.join(dir, 'truth.json'), JSON.stringify(movie.truth, null, 2) + '\n');
  return ['movie.tif', 'capacity.csv', 'truth.json'];
}
