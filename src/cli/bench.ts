// Being written (issue 2): `ionflux bench`.
import type { Command } from 'commander';
export function registerBench(_program: Command): void {}
