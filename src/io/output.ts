/**
 * Output folders are written whole or not at all: a command writes into a sibling staging folder and
 * renames it into place only when every file is complete, so a failure or Ctrl-C never leaves a
 * half-written result where the user looks for one.
 *
 * An existing folder is replaced only if it is empty or an earlier ionflux result (it holds the
 * marker file): `--out .` or `--out ~/data` never deletes a user's files.
 */
import { rmSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Written into every output folder; marks it as replaceable by a later run. */
export const OUTPUT_MARKER = '.ionflux-output';

export class OutputDirError extends Error {}

async function checkReplaceable(target: string): Promise<boolean> {
  const st = await stat(target).catch(() => null);
  if (!st) return false;
  if (!st.isDirectory()) throw new OutputDirError(`--out '${target}' is an existing file: give a folder (new, empty, or an earlier ionflux output)`);
  const entries = await readdir(target);
  if (entries.length && !entries.includes(OUTPUT_MARKER)) {
    throw new OutputDirError(`--out '${target}' is a folder with other files (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}): ionflux replaces only empty folders or its own earlier outputs; choose a new folder`);
  }
  return true;
}

export async function writeOutputDir<T>(dir: string, write: (staging: string) => Promise<T>): Promise<T> {
  const target = path.resolve(dir);
  const exists = await checkReplaceable(target);
  const staging = `${target}.partial-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  // synchronous on purpose: runs from a signal handler
  const onSignal = () => { rmSync(staging, { recursive: true, force: true }); process.exit(130); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const result = await write(staging);
    await writeFile(path.join(staging, OUTPUT_MARKER), 'written by ionflux; a later run may replace this folder\n');
    if (exists) {
      const old = `${target}.old-${process.pid}`;
      await rename(target, old);
      await rename(staging, target);
      await rm(old, { recursive: true, force: true });
    } else {
      await mkdir(path.dirname(target), { recursive: true });
      await rename(staging, target);
    }
    return result;
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
