/**
 * The cycler's record for `analyze --capacity FILE` (SPEC §6), read from a file; the format, the
 * parser and the interpolation at frame times are in src/io/capacityCsv.ts (also used in a browser).
 */
import { readFile } from 'node:fs/promises';
import { errnoCause, isErrnoError, UserError } from '../errors';
import { parseCapacityCsv, type CapacityRecord } from './capacityCsv';
import { holdInput } from './output';

export { parseCapacityCsv, interpolateAt, capacityAtFrames, type CapacityRecord } from './capacityCsv';

/** Reads and parses a capacity CSV file (Node); see parseCapacityCsv. Throws UserError naming the file. */
export async function readCapacityFile(path: string): Promise<CapacityRecord> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new UserError(`capacity file ${path} cannot be read: ${isErrnoError(e) ? errnoCause(e) : (e as Error).message}`);
  }
  // read as an input of this process: writeOutputDir will not replace it (the record may be a synth folder's)
  holdInput(path, 'the capacity file');
  return parseCapacityCsv(text, path);
}
