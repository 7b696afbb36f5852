/**
 * Parameter sweeps (SPEC §8): `planSweep` expands and validates a spec, `runSweep` computes the
 * runs of one shard into a resumable folder on the chosen backend, `mergeSweeps` joins the shard
 * folders into the table of the whole sweep. The CLI (src/cli/sweep.ts) is a thin layer on these.
 */
import { cpSync, existsSync } from 'node:fs';
import path from 'node:path';
import { checkBackendRequest, selectBackend, type BackendRequest } from '../gpu/backend';
import { EXIT, UserError } from '../errors';
import { encodePng } from '../render/png';
import { renderSweepPlot } from '../render/sweepPlot';
import { estimatedSteps } from '../solver/problem';
import { problemOf } from './simulateRun';
import { defaultJobs, executeInProcess, executeOnGpu, executeOnPool, poolAvailable, type ExecuteContext } from './execute';
import { readManifest, readRunRecord, SweepFolder, sweepManifest, type RunRecord, type SweepManifest } from './folder';
import { expandSweep, parseSweepSpec, shardOf, shardRuns, type PlannedRun, type SweepSpec } from './spec';

export { parseSweepSpec, expandSweep, resolveShard, shardRuns, shardOf, runId, SweepSpecError, type SweepSpec, type PlannedRun } from './spec';
export { SWEEP_PRESETS, sweepPreset } from './presets';
export { runsCsv, type RunRecord } from './folder';
export { runMetrics } from './simulateRun';
export { sweepWorkerMain } from './execute';

export interface SweepPlan {
  spec: SweepSpec;
  /** every run of the sweep, in order */
  runs: PlannedRun[];
  /** the runs of this shard */
  mine: PlannedRun[];
  keys: string[];
  duplicates: number;
  shard: { index: number; count: number };
  manifest: SweepManifest;
}

/**
 * Validates `raw` and lays out its runs; `shard` picks every count-th run from index. Paths in the
 * configs (mask files) are relative to `baseDir`, and the files' contents are part of the run ids.
 */
export function planSweep(raw: unknown, source: string, shard = { index: 0, count: 1 }, baseDir = process.cwd()): SweepPlan {
  const spec = parseSweepSpec(raw, source);
  const { runs, duplicates, keys } = expandSweep(spec, source, baseDir);
  const mine = shardRuns(runs, shard.index, shard.count);
  return { spec, runs, mine, keys, duplicates, shard, manifest: sweepManifest(spec, keys, runs, shard, path.resolve(baseDir)) };
}

export interface WorkEstimate { run: PlannedRun; nx: number; ny: number; cells: number; steps: number }

/** Grid and explicit steps of each run (what `--dry-run` lists): builds every run's grid. */
export async function estimateWork(runs: PlannedRun[], baseDir: string): Promise<WorkEstimate[]> {
  const out: WorkEstimate[] = [];
  for (const run of runs) {
    const p = await problemOf(run, baseDir);
    out.push({ run, nx: p.grid.nx, ny: p.grid.ny, cells: p.grid.cells, steps: estimatedSteps(p) });
  }
  return out;
}

export interface SweepOptions {
  out: string;
  /** folder that relative paths in the configs (mask files) are relative to */
  baseDir?: string;
  backend?: BackendRequest;
  /** runs at once: CPU pool threads (default: the cores), or lanes per GPU batch (default 256) */
  jobs?: number;
  /** GPU batches: whole steps per dispatch, 1 (default) … 8 (temporal blocking; GpuBatch.create) */
  stepsPerDispatch?: number;
  log?: (line: string) => void;
  onProgress?: (fraction: number, status: string) => void;
  /** stops the sweep: no new run starts, the finished ones are kept (runs in flight finish first) */
  signal?: AbortSignal;
  /** handle SIGINT / SIGTERM: keep the finished runs, remove the unfinished, exit 130 / 143 (the CLI) */
  handleSignals?: boolean;
}

export interface SweepResult {
  dir: string;
  total: number;
  /** finished by an earlier process into this folder */
  resumed: number;
  computed: number;
  /** true when `signal` stopped the sweep before every run was finished */
  stopped: boolean;
  backend: string;
  wallTime_s: number;
  records: RunRecord[];
}

/** The options a script passes, checked as the CLI's parser checks its flags (a typo must not run on another backend). */
function checkSweepOptions(o: SweepOptions): void {
  if (!o || typeof o.out !== 'string' || !o.out.trim()) throw new UserError(`runSweep: options.out = ${JSON.stringify(o?.out)} is not allowed: give the sweep's folder (a path)`);
  if (o.backend !== undefined) checkBackendRequest(o.backend, 'runSweep: options.backend');
  if (o.jobs !== undefined && !(Number.isInteger(o.jobs) && o.jobs >= 1)) throw new UserError(`runSweep: options.jobs = ${String(o.jobs)} is not allowed: use a whole number ≥ 1 (runs at once), or leave it out`);
  if (o.stepsPerDispatch !== undefined && !(Number.isInteger(o.stepsPerDispatch) && o.stepsPerDispatch >= 1 && o.stepsPerDispatch <= 8)) throw new UserError(`runSweep: options.stepsPerDispatch = ${String(o.stepsPerDispatch)} is not allowed: use a whole number 1 … 8`);
}

/** Computes the plan's runs of this shard into `options.out`, skipping those already finished there. */
export async function runSweep(plan: SweepPlan, options: SweepOptions): Promise<SweepResult> {
  checkSweepOptions(options);
  const t0 = performance.now();
  const log = options.log ?? (() => {});
  await checkParticles(plan.mine, options.baseDir ?? process.cwd());
  const folder = SweepFolder.open(options.out, plan.manifest, plan.mine, { log });
  const resumed = folder.finished.size;
  const todo = plan.mine.filter((r) => !folder.finished.has(r.id));
  let stopping = false;
  let computed = 0;
  let backendLabel = 'none (every run already finished)';
  const onSignal = (signal: NodeJS.Signals) => {
    stopping = true;
    // the lock first: whatever else fails here, the next run must be able to start
    folder.release();
    // pool threads may still write into their partial folders: what is left, the next run removes
    try { folder.removeOwnPartials(); } catch { /* removed by the next run (folder.ts removePartials) */ }
    try { folder.writeTables(); } catch { /* the run folders are what counts */ }
    process.stderr.write(`ionflux: stopped by ${signal}: ${folder.finished.size} of ${plan.mine.length} runs are finished in '${options.out}' and kept; the same command resumes the rest\n`);
    process.exit(signal === 'SIGINT' ? EXIT.sigint : EXIT.sigterm);
  };
  if (options.handleSignals) { process.on('SIGINT', onSignal); process.on('SIGTERM', onSignal); }
  let lastTables = performance.now();
  const ctx: ExecuteContext = {
    baseDir: options.baseDir ?? process.cwd(),
    outputs: plan.spec.outputs,
    partialDir: (id) => folder.partialDir(id),
    done: (run, partial) => {
      folder.commit(run.id, partial);
      computed++;
      const now = performance.now();
      // the tables follow the runs every few seconds, so a killed sweep's table is nearly complete too
      if (now - lastTables > 5000) { folder.writeTables(); lastTables = now; }
      const rate = computed / ((now - t0) / 1000);
      options.onProgress?.(computed / todo.length, `${resumed + computed}/${plan.mine.length} runs${resumed ? ` (${resumed} from before)` : ''}, ${rate.toPrecision(2)} runs/s`);
    },
    stopped: () => stopping || Boolean(options.signal?.aborted),
  };
  try {
    if (todo.length) {
      const backend = await selectBackend(options.backend ?? 'auto');
      try {
        if (backend.kind === 'gpu' && backend.gpu) {
          backendLabel = backend.label;
          await executeOnGpu(todo, backend.gpu, options.jobs ?? 256, ctx, options.stepsPerDispatch ?? 1);
        } else {
          // one thread per core at most: more only share the cores and each loads the whole bundle
          if (options.jobs !== undefined && options.jobs > defaultJobs()) log(`--jobs ${options.jobs}: the CPU pool runs at most one thread per core (${defaultJobs()})`);
          const jobs = Math.min(options.jobs ?? defaultJobs(), defaultJobs(), todo.length);
          if (jobs > 1 && poolAvailable()) {
            backendLabel = `${backend.label}, ${jobs} threads over runs`;
            await executeOnPool(todo, jobs, ctx);
          } else {
            backendLabel = backend.label;
            await executeInProcess(todo, ctx);
          }
        }
      } finally {
        backend.gpu?.device.destroy();
      }
    }
    folder.writeTables();
    const records = plan.mine.map((r) => folder.finished.get(r.id)).filter((r): r is RunRecord => Boolean(r));
    // what ran, as the runs' own summaries say (e.g. "cpu (wasm SIMD)"), and how
    const ran = [...new Set(todo.map((r) => folder.finished.get(r.id)?.backend).filter(Boolean))];
    if (ran.length) backendLabel = `${ran.join(' / ')}${backendLabel.includes('threads over runs') ? `, ${backendLabel.split(', ').pop()}` : ''}`;
    if (plan.spec.plot && plan.shard.count === 1 && records.length === plan.mine.length) writePlot(folder, plan.spec, records);
    return { dir: folder.dir, total: plan.mine.length, resumed, computed, stopped: folder.finished.size < plan.mine.length, backend: backendLabel, wallTime_s: (performance.now() - t0) / 1000, records };
  } catch (e) {
    folder.removeOwnPartials();
    try { folder.writeTables(); } catch { /* keep the first error */ }
    throw e;
  } finally {
    if (options.handleSignals) { process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal); }
    folder.release();
  }
}

/**
 * What only building a grid finds (an unreadable mask file, too many cells), found before the folder
 * is made: the first run of each distinct particle and grid (up to 16 of them) is built once.
 */
async function checkParticles(runs: PlannedRun[], baseDir: string): Promise<void> {
  const seen = new Set<string>();
  for (const run of runs) {
    const key = JSON.stringify([run.config.particle, run.config.grid]);
    if (seen.has(key)) continue;
    if (seen.size >= 16) return;
    seen.add(key);
    await problemOf(run, baseDir);
  }
}

function writePlot(folder: SweepFolder, spec: SweepSpec, records: RunRecord[]): void {
  const name = (spec.name ?? 'sweep').replace(/[^A-Za-z0-9._-]+/g, '_');
  folder.writeOwn(`${name}.png`, encodePng(renderSweepPlot(spec, records)));
}

/**
 * Joins shard folders of one sweep into `out`: every run of the sweep must be finished in one of
 * them. The table is the one the unsharded sweep writes (same rows, order and values; the wall
 * times and backends are each run's own).
 */
export function mergeSweeps(dirs: string[], out: string, options: { log?: (line: string) => void } = {}): SweepResult {
  const t0 = performance.now();
  const log = options.log ?? (() => {});
  if (!dirs.length) throw new UserError('sweep merge: give the shard folders to merge, e.g. ionflux sweep merge results/shard-* --out results/merged');
  const manifests = dirs.map((d) => {
    if (!existsSync(d)) throw new UserError(`sweep merge: '${d}' does not exist`);
    const m = readManifest(d, 'sweep merge');
    if (!m) throw new UserError(`sweep merge: '${d}' is not a sweep folder (no sweep.json)`);
    return m;
  });
  const first = manifests[0];
  manifests.forEach((m, k) => {
    if (m.specHash !== first.specHash) throw new UserError(`sweep merge: '${dirs[k]}' is from another sweep than '${dirs[0]}' (their specs differ: compare their sweep.json); merge the shards of one sweep`);
    if (m.shard.count !== first.shard.count) throw new UserError(`sweep merge: '${dirs[k]}' is shard ${m.shard.index} of ${m.shard.count}, '${dirs[0]}' shard ${first.shard.index} of ${first.shard.count}: merge the shards of one split`);
  });
  // each run from whichever folder finished it
  const found = new Map<string, string>();
  for (const d of dirs) for (const r of readManifest(d, 'sweep merge')!.runs) {
    if (!found.has(r.id) && readRunRecord(path.join(d, 'runs', r.id))) found.set(r.id, d);
  }
  const missing = first.runs.filter((r) => !found.has(r.id));
  if (missing.length) {
    const count = first.shard.count;
    const shards = [...new Set(missing.map((r) => shardOf(r.id, count)))].sort((a, b) => a - b);
    const given = new Set(manifests.map((m) => m.shard.index));
    const absent = shards.filter((s) => !given.has(s));
    throw new UserError(`sweep merge: ${missing.length} of ${first.runs.length} runs are not finished in the folders given: shard${shards.length > 1 ? 's' : ''} ${shards.join(', ')} of ${count}${absent.length ? ` (folder${absent.length > 1 ? 's' : ''} of shard${absent.length > 1 ? 's' : ''} ${absent.join(', ')} not given)` : ' (unfinished: resume them with the same sweep command)'}; e.g. run ${missing[0].id} ${JSON.stringify(missing[0].values)}`);
  }
  const manifest: SweepManifest = { ...first, shard: { index: 0, count: 1 } };
  const folder = SweepFolder.open(out, manifest, first.runs, { log, flag: '--out' });
  let computed = 0;
  try {
    for (const r of first.runs) {
      if (folder.finished.has(r.id)) continue;
      const partial = folder.partialDir(r.id);
      cpSync(path.join(found.get(r.id)!, 'runs', r.id), partial, { recursive: true });
      folder.commit(r.id, partial);
      computed++;
    }
    folder.writeTables();
    const records = first.runs.map((r) => folder.finished.get(r.id)!);
    if (first.spec.plot) writePlot(folder, first.spec, records);
    return { dir: folder.dir, total: first.runs.length, resumed: first.runs.length - computed, computed, stopped: false, backend: 'merge', wallTime_s: (performance.now() - t0) / 1000, records };
  } catch (e) {
    folder.removeOwnPartials();
    throw e;
  } finally {
    folder.release();
  }
}
