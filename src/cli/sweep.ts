/**
 * `ionflux sweep --spec FILE | --preset NAME --out DIR [--backend …] [--jobs N] [--steps-per-dispatch K] [--shard-index i --shard-count n] [--dry-run]`
 * `ionflux sweep merge DIR… --out DIR`
 */
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { parseBackend } from '../gpu/backend';
import { parseStepsPerDispatch } from './simulate';
import { estimateWork, mergeSweeps, planSweep, resolveShard, runSweep, SweepSpecError, SWEEP_PRESETS, sweepPreset, type SweepPlan } from '../sweep';
import { checkSweepTarget, isSweepManifest, readRunRecord } from '../sweep/folder';
import { errnoCause, isErrnoError, UserError } from './errors';
import { createProgress } from './progress';

interface SweepCliOptions {
  spec?: string;
  preset?: string;
  out?: string;
  backend: string;
  jobs?: number;
  stepsPerDispatch?: number;
  shardIndex?: string;
  shardCount?: string;
  dryRun?: boolean;
  quiet?: boolean;
}

function parseJobs(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 4096) throw new InvalidArgumentError(`--jobs = '${v}' is not allowed: use a whole number of runs at once, 1 … 4096`);
  return n;
}

async function loadSpec(opts: SweepCliOptions): Promise<{ raw: unknown; source: string; baseDir: string }> {
  if (opts.spec && opts.preset) throw new UserError('give either --spec FILE or --preset NAME, not both');
  if (!opts.spec && !opts.preset) throw new UserError(`give --spec FILE or --preset NAME (built-in sweeps: ${Object.keys(SWEEP_PRESETS).join(', ')})`);
  if (opts.preset) {
    try { return { raw: sweepPreset(opts.preset), source: `preset ${opts.preset}`, baseDir: process.cwd() }; } catch (e) { throw new UserError((e as Error).message); }
  }
  const file = opts.spec as string;
  let text: string;
  try { text = await readFile(file, 'utf8'); } catch (e) { throw new UserError(`--spec '${file}' could not be read: ${isErrnoError(e) ? errnoCause(e) : (e as Error).message}`); }
  let raw: unknown;
  try {
    raw = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new UserError(`--spec '${file}' is not valid JSON: ${(e as Error).message}`);
  }
  // a sweep folder's sweep.json: the spec it was made with, its paths relative to where they were
  // (its spec as parsed, with the defaults filled in: the empty axes left out again)
  if (isSweepManifest(raw)) {
    const spec: Record<string, unknown> = { ...raw.spec };
    for (const k of ['grid', 'zip', 'runs'] as const) {
      const v = spec[k];
      if (v !== undefined && (Array.isArray(v) ? v.length === 0 : Object.keys(v as object).length === 0)) delete spec[k];
    }
    return { raw: spec, source: `--spec '${file}' (the spec of that sweep)`, baseDir: raw.baseDir ?? path.dirname(path.resolve(file)) };
  }
  return { raw, source: `--spec '${file}'`, baseDir: path.dirname(path.resolve(file)) };
}

const fmtWork = (x: number) => (x >= 1e4 ? x.toExponential(2) : String(x));

export async function sweepCommand(opts: SweepCliOptions): Promise<void> {
  const log = (l: string) => { if (!opts.quiet) process.stderr.write(`ionflux sweep: ${l}\n`); };
  const { raw, source, baseDir } = await loadSpec(opts);
  let plan;
  let backend;
  let shard;
  try {
    shard = resolveShard({ index: opts.shardIndex, count: opts.shardCount });
    plan = planSweep(raw, source, shard, baseDir);
    backend = parseBackend(opts.backend);
  } catch (e) {
    if (e instanceof SweepSpecError || e instanceof Error) throw new UserError(e.message);
    throw e;
  }
  const shardText = plan.shard.count > 1 ? `, shard ${plan.shard.index} of ${plan.shard.count}: ${plan.mine.length} runs` : '';
  if (opts.dryRun) {
    const est = await estimateWork(plan.mine, baseDir).catch((e: Error) => { throw new UserError(e.message); });
    const done = opts.out ? finishedIn(opts.out, plan) : new Set<string>();
    const rows = [['id', ...plan.keys, 'grid', 'cells', 'steps', 'cells×steps', 'status'].join('\t')];
    for (const e of est) {
      rows.push([e.run.id, ...plan.keys.map((k) => JSON.stringify(e.run.values[k] ?? null)), `${e.nx}×${e.ny}`, e.cells, e.steps, fmtWork(e.cells * e.steps), done.has(e.run.id) ? 'finished' : 'to run'].join('\t'));
    }
    process.stdout.write(rows.join('\n') + '\n');
    const todo = est.filter((e) => !done.has(e.run.id));
    const work = todo.reduce((a, e) => a + e.cells * e.steps, 0);
    process.stderr.write(`ionflux sweep: ${source}: ${plan.runs.length} runs${plan.duplicates ? ` (${plan.duplicates} duplicate${plan.duplicates > 1 ? 's' : ''} dropped)` : ''}${shardText}; ${todo.length} to run, about ${fmtWork(work)} cell-updates (at most: a cut-off ends a run early); nothing was run\n`);
    return;
  }
  if (!opts.out) throw new UserError('give --out DIR (the sweep folder), or --dry-run to list the runs');
  log(`${source}: ${plan.runs.length} runs${plan.duplicates ? ` (${plan.duplicates} duplicate${plan.duplicates > 1 ? 's' : ''} dropped)` : ''}${shardText}${shard.source === 'slurm' ? ' (from the Slurm array task)' : ''}`);
  const progress = createProgress('sweep', { quiet: opts.quiet });
  const result = await runSweep(plan, { out: opts.out, baseDir, backend, jobs: opts.jobs, stepsPerDispatch: opts.stepsPerDispatch, log, onProgress: (f, s) => progress.update(f, s), handleSignals: true })
    .catch((e: unknown) => { throw e instanceof SweepSpecError ? new UserError(e.message) : e; });
  progress.done(`${result.total} runs`);
  log(result.computed === 0 && result.resumed === result.total
    ? `all ${result.total} runs were already finished in ${opts.out}: nothing computed; the tables rewritten`
    : `${result.computed} run(s) computed${result.resumed ? `, ${result.resumed} already finished` : ''} on ${result.backend} in ${result.wallTime_s.toFixed(1)} s; wrote ${opts.out}/runs.csv`);
}

/**
 * The plan's runs finished in `dir` (for --dry-run's status column): nothing if it is no sweep
 * folder yet; refused as the real run would refuse it (another spec, other outputs, another shard).
 */
function finishedIn(dir: string, plan: SweepPlan): Set<string> {
  let st;
  try { st = statSync(dir); } catch { return new Set(); }
  if (!st.isDirectory()) throw new UserError(`--out '${dir}' is a file, not a folder: give a folder for the sweep's results`);
  checkSweepTarget(path.resolve(dir), dir, plan.manifest, '--out', () => {});
  return new Set(plan.mine.map((r) => r.id).filter((id) => readRunRecord(path.join(dir, 'runs', id))));
}

export function registerSweep(program: Command): void {
  // `sweep merge … --out DIR`: the --out after `merge` is merge's, not sweep's
  program.enablePositionalOptions();
  const sweep = program
    .command('sweep')
    .enablePositionalOptions()
    .description('run a parameter sweep (docs/sweeps.md): runs.csv, runs.jsonl, runs/<id>/; resumable, shardable (Slurm arrays)')
    .option('--spec <file>', 'sweep spec (JSON, docs/sweeps.md)')
    .option('--preset <name>', `built-in sweep: ${Object.keys(SWEEP_PRESETS).join(', ')}`)
    .option('--out <dir>', 'sweep folder (new, empty, or one this sweep wrote: it resumes)')
    .option('--backend <backend>', 'auto (a real GPU, else the CPU pool), gpu (any WebGPU adapter), or cpu', 'auto')
    .option('--jobs <n>', 'runs at once: CPU threads (default: the cores) or lanes per GPU batch (default 256)', parseJobs)
    .option('--steps-per-dispatch <k>', 'GPU batches: whole steps per dispatch, 1 (default) to 8 (temporal blocking: the same results, fewer dispatches; docs/performance.md)', parseStepsPerDispatch)
    .option('--shard-index <i>', 'this shard (0-based); default: from SLURM_ARRAY_TASK_ID')
    .option('--shard-count <n>', 'number of shards; default: SLURM_ARRAY_TASK_COUNT')
    .option('--dry-run', 'list the runs and the work (cells × steps), run nothing')
    .option('--quiet', 'no progress on stderr')
    .action(async (o) => sweepCommand(o as SweepCliOptions));
  sweep
    .command('merge')
    .description('join shard folders of one sweep into the whole table')
    .argument('<dirs...>', 'the shard folders')
    .requiredOption('--out <dir>', 'merged sweep folder')
    .option('--quiet', 'no progress on stderr')
    .action(async (dirs: string[], o: { out: string; quiet?: boolean }) => {
      const log = (l: string) => { if (!o.quiet) process.stderr.write(`ionflux sweep merge: ${l}\n`); };
      const r = mergeSweeps(dirs, o.out, { log });
      log(`${r.total} runs from ${dirs.length} folder(s)${r.resumed ? ` (${r.resumed} already in '${o.out}')` : ''}; wrote ${o.out}/runs.csv`);
    });
}
