/**
 * Output folders are written whole or not at all: a command writes into a sibling staging folder and
 * renames it into place only when every file is complete, so a failure or Ctrl-C never leaves a
 * half-written result where the user looks for one.
 */
import { rmSync } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

export async function writeOutputDir<T>(dir: string, write: (staging: string) => Promise<T>): Promise<T> {
  const target = path.resolve(dir);
  const staging = `${target}.partial-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  const cleanup = () => {
    // synchronous on purpose: runs from a signal handler
    rmSync(staging, { recursive: true, force: true });
  };
  const onSignal = () => { cleanup(); process.exit(130); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const result = await write(staging);
    const existing = await stat(target).catch(() => null);
    if (existing) {
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
