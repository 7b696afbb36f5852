// Being written (issue 3): `ionflux analyze`. Replaced by the imaging work.
import type { Command } from 'commander';
export function registerAnalyze(_program: Command): void {}
