/**
 * A sweep's output folder (SPEC §8), written so that no finished run is ever lost or computed twice:
 *
 *   sweep.json          the spec, the whole run list (id, values), this folder's shard
 *   runs/<id>/          one finished run: summary.json, trace.csv (fields and pictures if asked);
 *                       computed into runs/.<id>.partial-PID and renamed whole, so a run folder
 *                       is complete or absent
 *   runs.csv, runs.jsonl the table of the finished runs in sweep order, rewritten atomically
 *
 * A folder is opened only when it is new, empty, or holds a sweep of the same runs (resume) or of
 * a subset of them (the spec was extended); anything else is refused with what differs. A lock
 * (`DIR.ionflux-lock`) keeps a second process out. Finished runs are never rewritten.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { EnvironmentError, UserError } from '../errors';
import { OUTPUT_MARKER, takeLock } from '../io/output';
import { VERSION } from '../version';
import { canonicalJson, type Assignment, type PlannedRun, type SweepSpec } from './spec';

export const SWEEP_FILE = 'sweep.json';
const KIND = 'ionflux-sweep';

/** What runs.jsonl holds per run, and runs.csv is made of. */
export interface RunRecord {
  id: string;
  index: number;
  values: Assignment;
  stopReason: string;
  time_s: number;
  extractedCapacity_mAh_g: number;
  maxComOffset_um: number | null;
  maxComOffsetRel: number | null;
  coreVanish_s: number | null;
  wallTime_s: number;
  backend: string;
  /** the run's summary.json */
  summary: Record<string, unknown>;
}

export interface SweepManifest {
  kind: typeof KIND;
  ionflux: string;
  name: string | null;
  /** SHA-256 of the canonical spec */
  specHash: string;
  spec: SweepSpec;
  /** the swept key paths, the columns of runs.csv */
  keys: string[];
  runs: { index: number; id: string; values: Assignment }[];
  shard: { index: number; count: number };
  /** the folder the configs' paths (mask files) are relative to: `--spec sweep.json` resumes with it */
  baseDir?: string;
}

export function specHash(spec: SweepSpec): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex');
}

export function sweepManifest(spec: SweepSpec, keys: string[], runs: PlannedRun[], shard: { index: number; count: number }, baseDir?: string): SweepManifest {
  return {
    kind: KIND, ionflux: VERSION, name: spec.name ?? null, specHash: specHash(spec), spec, keys,
    runs: runs.map((r) => ({ index: r.index, id: r.id, values: r.values })), shard, ...(baseDir ? { baseDir } : {}),
  };
}

/** Whether parsed JSON is a sweep folder's sweep.json (which `--spec` also takes: its spec). */
export function isSweepManifest(v: unknown): v is SweepManifest {
  return !!v && typeof v === 'object' && (v as SweepManifest).kind === KIND && !!(v as SweepManifest).spec && Array.isArray((v as SweepManifest).runs);
}

/** sweep.json of `dir`, or null when there is none; UserError when the file is not a sweep's. */
export function readManifest(dir: string, flag: string): SweepManifest | null {
  const file = path.join(dir, SWEEP_FILE);
  if (!existsSync(file)) return null;
  let m: SweepManifest;
  try { m = JSON.parse(readFileSync(file, 'utf8')); } catch (e) { throw new UserError(`${flag} '${dir}': ${SWEEP_FILE} is not an ionflux sweep's (${(e as Error).message})`); }
  if (!isSweepManifest(m)) throw new UserError(`${flag} '${dir}' holds a ${SWEEP_FILE} that ionflux did not write: choose another folder`);
  return m;
}

const num = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '' : String(Number(v.toPrecision(9))));
const csvCell = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
const valueCell = (v: unknown) => (typeof v === 'number' ? num(v) : typeof v === 'string' ? csvCell(v) : v === undefined ? '' : csvCell(JSON.stringify(v)));

export const RUN_COLUMNS = ['stopReason', 'time_s', 'extractedCapacity_mAh_g', 'maxComOffset_um', 'maxComOffsetRel', 'coreVanish_s', 'wallTime_s', 'backend'] as const;

/** runs.csv: one row per record, in the order given; swept values that are lists or objects as JSON. */
export function runsCsv(keys: string[], records: RunRecord[]): string {
  const rows = [['id', ...keys, ...RUN_COLUMNS].map(csvCell).join(',')];
  for (const r of records) {
    rows.push([r.id, ...keys.map((k) => valueCell(r.values[k])), r.stopReason, num(r.time_s), num(r.extractedCapacity_mAh_g), num(r.maxComOffset_um), num(r.maxComOffsetRel), num(r.coreVanish_s), num(r.wallTime_s), csvCell(r.backend)].join(','));
  }
  return rows.join('\n') + '\n';
}

/** runs.jsonl: one line per run, its whole summary with the sweep's id and values. */
export function runsJsonl(records: RunRecord[]): string {
  return records.map((r) => JSON.stringify({ id: r.id, index: r.index, values: r.values, ...r.summary })).join('\n') + (records.length ? '\n' : '');
}

/** The record of a finished run folder (its summary.json), or null if it holds none. */
export function readRunRecord(runDir: string): RunRecord | null {
  let s: Record<string, unknown>;
  try { s = JSON.parse(readFileSync(path.join(runDir, 'summary.json'), 'utf8')); } catch { return null; }
  const sw = s.sweep as { id: string; index: number; values: Assignment; metrics: Record<string, number | null> } | undefined;
  // a summary without the sweep's part (another tool's, a hand edit) is not a finished run of this sweep
  if (!sw || typeof sw.id !== 'string' || !sw.metrics || typeof sw.metrics !== 'object' || typeof s.extractedCapacity_mAh_g !== 'number') return null;
  return {
    id: sw.id, index: sw.index, values: sw.values, stopReason: String(s.stopReason), time_s: s.time_s as number,
    extractedCapacity_mAh_g: s.extractedCapacity_mAh_g as number, maxComOffset_um: sw.metrics.maxComOffset_um,
    maxComOffsetRel: sw.metrics.maxComOffsetRel, coreVanish_s: sw.metrics.coreVanish_s, wallTime_s: s.wallTime_s as number,
    backend: String(s.backend), summary: s,
  };
}

/** sha256 of what the folder's own files (tables, plot) held when this sweep last wrote them */
const OWN_FILES = '.ionflux-sweep-files';
const sha = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

function writeAtomic(file: string, text: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

export class SweepFolder {
  readonly runsDir: string;
  /** finished runs of this folder, by id */
  readonly finished = new Map<string, RunRecord>();
  private released = false;
  private partialSeq = 0;
  private log: (line: string) => void = () => {};

  private constructor(readonly dir: string, readonly manifest: SweepManifest, private readonly lock: string, readonly mine: readonly { id: string }[]) {
    this.runsDir = path.join(dir, 'runs');
  }

  /**
   * Writes one of the folder's own files (runs.csv, runs.jsonl, the plot). One the user changed
   * since this sweep wrote it (an annotated runs.csv) is never overwritten: it is kept beside as
   * NAME.yours-TIME and the log says so.
   */
  writeOwn(name: string, data: string | Uint8Array): void {
    const file = path.join(this.dir, name);
    const recordFile = path.join(this.dir, OWN_FILES);
    let record: Record<string, string> = {};
    try { record = JSON.parse(readFileSync(recordFile, 'utf8')); } catch { /* none yet */ }
    if (existsSync(file) && record[name] !== sha(readFileSync(file))) {
      const keep = `${file}.yours-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      renameSync(file, keep);
      this.log(`'${name}' was changed since this sweep wrote it: kept as '${path.basename(keep)}', a new ${name} written`);
    }
    writeAtomic(file, data);
    record[name] = sha(data);
    writeAtomic(recordFile, JSON.stringify(record) + '\n');
  }

  /**
   * Opens (or creates) `dir` for the runs `mine` of the sweep `manifest`, resuming what an earlier
   * process finished there. `log` gets one line per thing a user should know (a stale lock removed,
   * the spec extended, unfinished runs cleaned up).
   */
  static open(dir: string, manifest: SweepManifest, mine: readonly { id: string }[], options: { flag?: string; log: (line: string) => void }): SweepFolder {
    const flag = options.flag ?? '--out';
    if (!dir.trim()) throw new UserError(`${flag} '' is empty: give a folder`);
    const target = path.resolve(dir);
    const st = (() => { try { return statSync(target); } catch { return null; } })();
    if (st && !st.isDirectory()) throw new UserError(`${flag} '${dir}' is a file, not a folder: give a folder for the sweep's results`);
    try { mkdirSync(target, { recursive: true }); } catch (e) { throw new EnvironmentError(`${flag} '${dir}': cannot create it (${(e as Error).message})`); }
    const lock = takeLock(target, flag, options.log);
    try {
      checkSweepTarget(target, dir, manifest, flag, options.log);
      const folder = new SweepFolder(target, manifest, lock, mine);
      folder.log = options.log;
      mkdirSync(folder.runsDir, { recursive: true });
      folder.removePartials(options.log);
      for (const r of mine) {
        const rec = readRunRecord(path.join(folder.runsDir, r.id));
        if (rec) folder.finished.set(r.id, rec);
      }
      writeAtomic(path.join(target, SWEEP_FILE), JSON.stringify(manifest, null, 2) + '\n');
      return folder;
    } catch (e) {
      try { unlinkSync(lock); } catch { /* gone */ }
      throw e;
    }
  }

  /** Unfinished run folders of an earlier (killed) process: safe to remove, this process holds the lock. */
  private removePartials(log: (line: string) => void): void {
    const partial = readdirSync(this.runsDir).filter((n) => /^\..+\.partial-\d+(-\d+)?$/.test(n));
    for (const n of partial) rmSync(path.join(this.runsDir, n), { recursive: true, force: true });
    if (partial.length) log(`removed ${partial.length} unfinished run folder(s) left by an interrupted sweep`);
  }

  /** A fresh folder to compute run `id` into; `commit` moves it into place. */
  partialDir(id: string): string {
    const d = path.join(this.runsDir, `.${id}.partial-${process.pid}-${this.partialSeq++}`);
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d);
    return d;
  }

  /** Moves a finished run's folder into place and records it. */
  commit(id: string, partial: string): RunRecord {
    const rec = readRunRecord(partial);
    if (!rec || rec.id !== id) throw new Error(`sweep: run ${id} finished without a readable summary.json in ${partial}`);
    const to = path.join(this.runsDir, id);
    // a run folder without a summary (a user's copy, a crash before this layout) is not a finished run
    if (existsSync(to)) renameSync(to, `${to}.replaced-${Date.now()}`);
    renameSync(partial, to);
    this.finished.set(id, rec);
    return rec;
  }

  /** runs.csv and runs.jsonl of the finished runs, in sweep order (synchronous: also called from a signal handler). */
  writeTables(): void {
    // place and values from this sweep's plan (a run found again after the spec was extended or
    // reordered keeps its results, not its old place)
    const plan = new Map(this.manifest.runs.map((r) => [r.id, r]));
    const records = this.mine.map((r) => this.finished.get(r.id)).filter((r): r is RunRecord => r !== undefined)
      .map((r) => ({ ...r, index: plan.get(r.id)?.index ?? r.index, values: plan.get(r.id)?.values ?? r.values }));
    this.writeOwn('runs.csv', runsCsv(this.manifest.keys, records));
    this.writeOwn('runs.jsonl', runsJsonl(records));
  }

  /** Removes this process's unfinished run folders (on a signal or an error). */
  removeOwnPartials(): void {
    let names: string[] = [];
    try { names = readdirSync(this.runsDir); } catch { return; }
    for (const n of names) if (n.includes(`.partial-${process.pid}-`)) rmSync(path.join(this.runsDir, n), { recursive: true, force: true, maxRetries: 3 });
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    try { unlinkSync(this.lock); } catch { /* gone */ }
  }
}

/**
 * Refuses what a sweep may not write into (`target`, an existing folder; `dir` as the user gave it):
 * another command's output, a folder of other files, or a sweep of another spec or shard. `--dry-run`
 * asks this too, so that it refuses what the real run would.
 */
export function checkSweepTarget(target: string, dir: string, manifest: SweepManifest, flag: string, log: (l: string) => void): void {
  const old = readManifest(target, flag);
  if (old) return checkCompatible(old, manifest, dir, flag, log);
  const present = readdirSync(target).filter((f) => !f.startsWith('.nfs'));
  if (present.includes(OUTPUT_MARKER)) throw new UserError(`${flag} '${dir}' holds the output of another ionflux command (not a sweep): choose another folder`);
  if (present.length) throw new UserError(`${flag} '${dir}' is not empty and holds no ${SWEEP_FILE} (${present.slice(0, 3).join(', ')}${present.length > 3 ? ', …' : ''}): a sweep writes into a new or empty folder, or resumes its own; choose another folder`);
}

/**
 * A folder made by another spec may be resumed only if its runs are all in this one (the spec was
 * extended by new runs): otherwise its table would mix two sweeps. The shard must be the same.
 */
export function checkCompatible(old: SweepManifest, now: SweepManifest, dir: string, flag: string, log: (l: string) => void): void {
  if (old.shard.index !== now.shard.index || old.shard.count !== now.shard.count) {
    const what = (s: { index: number; count: number }) => (s.count === 1 ? 'the whole sweep (not sharded)' : `shard ${s.index} of ${s.count}`);
    throw new UserError(`${flag} '${dir}' holds ${what(old.shard)}; this is ${what(now.shard)}: give each shard its own folder (e.g. --out results/shard-${now.shard.index}), and merge them with ionflux sweep merge`);
  }
  if (old.ionflux !== now.ionflux) {
    log(`'${dir}' was started by ionflux ${old.ionflux}, this is ${now.ionflux}: its finished runs are kept as they are (each run's summary.json says which version computed it); use a new --out to recompute them all`);
  }
  // (the same spec text can name other runs: a mask file it reads was edited)
  if (old.specHash === now.specHash && old.runs.length === now.runs.length && old.runs.every((r, i) => r.id === now.runs[i].id)) return;
  const ids = new Set(now.runs.map((r) => r.id));
  const gone = old.runs.filter((r) => !ids.has(r.id));
  if (gone.length) {
    const e = gone[0];
    throw new UserError(`${flag} '${dir}' holds a sweep of another spec: ${gone.length} of its ${old.runs.length} runs are not in this one (e.g. run ${e.id}: ${JSON.stringify(e.values)}; a mask file's contents are part of its runs' ids, since ionflux 0.2.0: a folder of mask runs from before is another spec); use a new --out, or resume with the spec it was made with: --spec '${path.join(dir, SWEEP_FILE)}' (a spec may only be extended by new runs)`);
  }
  // files the finished runs did not write are not written by resuming: refused rather than missing
  const more = (['trace', 'snapshots'] as const).filter((k) => now.spec.outputs[k] && !old.spec.outputs[k]);
  if (more.length) {
    throw new UserError(`${flag} '${dir}' holds a sweep whose runs were computed without ${more.map((k) => `outputs.${k}`).join(' and ')}, which this spec asks for: resuming would leave the finished runs without them; use a new --out to compute every run with them, or resume with the spec's outputs as they were (${JSON.stringify(old.spec.outputs)})`);
  }
  const added = now.runs.length - old.runs.length;
  const reordered = old.runs.some((r, i) => now.runs[i]?.id !== r.id);
  const changed = (['name', 'plot', 'outputs'] as const).filter((k) => canonicalJson(old.spec[k] ?? null) !== canonicalJson(now.spec[k] ?? null));
  log(added > 0
    ? `the spec of '${dir}' was extended: ${added} new run(s), the ${old.runs.length} earlier ones are kept`
    : `the spec of '${dir}' changed (${[...(reordered ? ['the order of its runs'] : []), ...changed].join(', ') || 'how its runs are written down'}) but holds the same ${old.runs.length} runs: they are kept`);
}
