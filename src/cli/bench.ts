/**
 * `ionflux bench [--quick] [--backend auto|gpu|cpu] [--only NAME] [--json FILE]`: the benchmark suite
 * (bench/). Prints one table with ratios from the same run, labelled with the adapter and machine,
 * and writes the rows as JSON.
 */
import { closeSync, openSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import type { Command } from 'commander';
import { parseBackend, selectBackend } from '../gpu/backend';
import { formatTable, runNumpy, type BenchCase, type BenchRow } from '../../bench/harness';
import { solverCases } from '../../bench/cases/solver';
import { imagingCases } from '../../bench/cases/imaging';
import { endToEndCases } from '../../bench/cases/endToEnd';
import { simulatePeersCases } from '../../bench/cases/simulatePeers';
import { sweepCases } from '../../bench/cases/sweep';
import { setupCases } from '../../bench/cases/setup';
import { fitCases } from '../../bench/cases/fit';
import { describeFsError, EnvironmentError, isErrnoError, UserError } from './errors';

/**
 * --json is checked before the benchmark runs (it takes minutes): its folder must exist and take
 * files, and an existing file is replaced only if it is an earlier ionflux bench result.
 */
function checkJsonTarget(file: string): void {
  const st = (() => { try { return statSync(file); } catch { return null; } })();
  if (st?.isDirectory()) throw new UserError(`--json '${file}' is a folder: give a file name, e.g. ${path.join(file, 'bench.json')}`);
  if (st) {
    let ours = false;
    try { const j = JSON.parse(readFileSync(file, 'utf8')); ours = Boolean(j && Array.isArray(j.rows) && j.machine); } catch { /* not JSON */ }
    if (!ours) throw new UserError(`--json '${file}' exists and is not an ionflux bench result: ionflux does not overwrite it; choose another file`);
  }
  const dir = path.dirname(path.resolve(file));
  const probe = path.join(dir, `.ionflux-probe-${process.pid}`);
  try { closeSync(openSync(probe, 'wx')); unlinkSync(probe); } catch (e) {
    if (isErrnoError(e)) throw new EnvironmentError(describeFsError(e, `--json '${file}': cannot write into '${dir}'`));
    throw e;
  }
}

export const ALL_CASES: BenchCase[] = [...solverCases, ...imagingCases, ...endToEndCases, ...simulatePeersCases, ...sweepCases, ...setupCases, ...fitCases];

export interface BenchOptions {
  quick?: boolean;
  backend: string;
  only?: string;
  json: string;
}

export async function benchCommand(opts: BenchOptions): Promise<void> {
  let request;
  try { request = parseBackend(opts.backend); } catch (e) { throw new UserError((e as Error).message); }
  const cases = opts.only ? ALL_CASES.filter((c) => c.name.includes(opts.only as string)) : ALL_CASES;
  if (!cases.length) throw new UserError(`--only '${opts.only}' matches no case: use part of one of ${ALL_CASES.map((c) => `'${c.name}'`).join(', ')}`);
  checkJsonTarget(opts.json);
  // the bench measures whatever adapter there is, software ones too (for ratios), unlike auto elsewhere
  const backend = request === 'auto' ? await selectBackend('gpu').catch(() => selectBackend('cpu')) : await selectBackend(request);
  const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.cpus().length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  const adapter = backend.gpu ? `${backend.gpu.report.name}${backend.gpu.report.software ? ' (software adapter: for ratios and regressions, not GPU figures)' : ''}` : 'none (CPU only)';
  process.stderr.write(`ionflux bench: machine ${machine}\nionflux bench: adapter ${adapter}\n`);
  const rows: BenchRow[] = [];
  const started = new Date().toISOString();
  try {
    for (const c of cases) {
      rows.push(...(await c.run({
        gpu: backend.gpu ?? null,
        quick: Boolean(opts.quick),
        log: (m) => process.stderr.write(`ionflux bench: ${m}\n`),
        numpy: runNumpy,
      })));
    }
  } finally {
    backend.gpu?.device.destroy();
  }
  process.stdout.write(`\nionflux bench — ${started}\nmachine: ${machine}\nadapter: ${adapter}\n\n${formatTable(rows)}\n`);
  // written whole (temporary file + rename): an interrupted write never leaves half a JSON
  const tmp = `${opts.json}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify({ ionfluxBench: 1, started, machine, adapter, quick: Boolean(opts.quick), rows }, null, 2) + '\n');
  await rename(tmp, opts.json);
  process.stderr.write(`ionflux bench: wrote ${opts.json}\n`);
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('benchmark the GPU kernels against the CPU reference and NumPy baselines; prints a table, writes JSON')
    .option('--quick', 'small sizes and few samples (a smoke run)')
    .option('--backend <backend>', 'auto, gpu or cpu (cpu: no GPU rows)', 'auto')
    .option('--only <name>', 'run only the cases whose name contains this')
    .option('--json <file>', 'where to write the results', 'bench-results.json')
    .action(async (o) => benchCommand(o as BenchOptions));
}
