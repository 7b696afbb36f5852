// Being written (issue 2): `ionflux simulate`.
import type { Command } from 'commander';
export function registerSimulate(_program: Command): void {}
