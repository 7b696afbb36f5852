/**
 * Sweep specs (SPEC §8): what to run. A base config (a preset or a config), axes over config key
 * paths — `grid` (cartesian product), `zip` (lists of equal length taken together), `runs` (explicit
 * overrides) — combined as product(grid) × zip × runs, and which per-run files to keep. Expanding a
 * spec resolves and validates every run's config before anything runs, and names each run by a hash
 * of its resolved config, so that the same run is never computed twice (nor twice across shards,
 * resumes and merges).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, presetConfig, setKeyPath, resolveConfig, type SimulationConfig } from '../model/config';
import { UserError } from '../errors';

/** A value at a config key path, e.g. { "protocol.0.current_mA_g": 100 } */
export type Assignment = Record<string, unknown>;

export interface SweepSpec {
  /** shown in progress lines and the sweep's files */
  name?: string;
  base: { preset: string } | { config: Record<string, unknown> };
  grid: Record<string, unknown[]>;
  zip: Record<string, unknown[]>;
  runs: Assignment[];
  outputs: { trace: boolean; snapshots: boolean };
  /** a picture of the table, NAME.png: y against the swept key x, one line per value of `series` */
  plot?: { x: string; y: (typeof PLOT_Y)[number]; series?: string };
}

/** One run of a sweep: its place in the sweep, the values it sets, its resolved config and id. */
export interface PlannedRun {
  /** position in the expanded sweep (0-based); shards and tables keep this order */
  index: number;
  /** hash of the resolved config (12 hex digits) */
  id: string;
  /** the swept key paths and their values for this run */
  values: Assignment;
  config: SimulationConfig;
}

/** A sweep spec that cannot be run: bad input (a UserError), naming the spec, the key and the value. */
export class SweepSpecError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'SweepSpecError';
  }
}

const TOP_KEYS = ['name', 'description', 'base', 'grid', 'zip', 'runs', 'outputs', 'plot'];
/** the runs.csv columns a plot can show on its y axis */
export const PLOT_Y = ['extractedCapacity_mAh_g', 'time_s', 'maxComOffset_um', 'maxComOffsetRel', 'coreVanish_s', 'wallTime_s'] as const;
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
/** A value as written, as JSON but with NaN and ±Infinity by name (JSON.stringify prints null for them). */
const written = (v: unknown): string => {
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return `[${v.map(written).join(',')}]`;
  if (isObject(v)) return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${written(x)}`).join(',')}}`;
  return JSON.stringify(v) ?? String(v);
};
/** A value as written, cut at 60 characters. */
const show = (v: unknown) => { const s = written(v); return s.length > 60 ? `${s.slice(0, 57)}...` : s; };

/** Validates a parsed spec (JSON) and fills the defaults. `source` names it in messages (e.g. "--spec 'a.json'"). */
export function parseSweepSpec(raw: unknown, source = 'sweep spec'): SweepSpec {
  const fail = (msg: string): never => { throw new SweepSpecError(`${source}: ${msg}`); };
  if (!isObject(raw)) fail(`expected a JSON object with "base" and at least one of "grid", "zip", "runs", got ${show(raw)}`);
  const r = raw as Record<string, unknown>;
  for (const k of Object.keys(r)) {
    if (!TOP_KEYS.includes(k)) fail(`unknown key '${k}': a spec has ${TOP_KEYS.map((t) => `"${t}"`).join(', ')} (docs/sweeps.md)`);
  }
  if (r.name !== undefined && (typeof r.name !== 'string' || !r.name.trim())) fail(`name = ${show(r.name)} is not allowed: use a non-empty string`);
  const base = r.base;
  if (!isObject(base) || Object.keys(base).length !== 1 || !('preset' in base || 'config' in base)) {
    fail(`base = ${show(base)} is not allowed: use {"preset": "fig4c"} or {"config": {…a simulate config…}}`);
  }
  const b = base as Record<string, unknown>;
  if ('preset' in b && typeof b.preset !== 'string') fail(`base.preset = ${show(b.preset)} is not allowed: use a preset name such as "fig4c"`);
  if ('config' in b && !isObject(b.config)) fail(`base.config = ${show(b.config)} is not allowed: use a simulate config object (docs/config.md)`);
  const axes = (key: 'grid' | 'zip'): Record<string, unknown[]> => {
    const v = r[key];
    if (v === undefined) return {};
    if (!isObject(v)) fail(`${key} = ${show(v)} is not allowed: use an object of key paths to lists of values, e.g. {"protocol.0.current_mA_g": [50, 100]}`);
    for (const [path, values] of Object.entries(v as Record<string, unknown>)) {
      checkKeyPath(path, `${key}["${path}"]`, fail);
      if (!Array.isArray(values)) fail(`${key}["${path}"] = ${show(values)} is not allowed: use a list of values, e.g. [50, 100, 200]`);
      if ((values as unknown[]).length === 0) fail(`${key}["${path}"] is an empty list: an axis needs at least one value`);
    }
    return v as Record<string, unknown[]>;
  };
  const grid = axes('grid');
  const zip = axes('zip');
  const zipLengths = Object.entries(zip).map(([k, v]) => [k, v.length] as const);
  if (zipLengths.some(([, n]) => n !== zipLengths[0][1])) {
    fail(`zip lists must have equal lengths, got ${zipLengths.map(([k, n]) => `"${k}": ${n}`).join(', ')}`);
  }
  let runs: Assignment[] = [];
  if (r.runs !== undefined) {
    if (!Array.isArray(r.runs) || r.runs.length === 0) fail(`runs = ${show(r.runs)} is not allowed: use a non-empty list of objects of key paths to values, e.g. [{"protocol.0.current_mA_g": 50}]`);
    runs = (r.runs as unknown[]).map((a, i) => {
      if (!isObject(a)) fail(`runs[${i}] = ${show(a)} is not allowed: use an object of key paths to values`);
      for (const path of Object.keys(a as object)) checkKeyPath(path, `runs[${i}]["${path}"]`, fail);
      return a as Assignment;
    });
  }
  const all = [...Object.keys(grid), ...Object.keys(zip)];
  const dup = all.find((k, i) => all.indexOf(k) !== i);
  if (dup) fail(`"${dup}" is an axis of both grid and zip: give each key path once`);
  if (!Object.keys(grid).length && !Object.keys(zip).length && !runs.length) fail('nothing to sweep: give at least one of "grid", "zip" or "runs"');
  const outputs = { trace: true, snapshots: false };
  if (r.outputs !== undefined) {
    if (!isObject(r.outputs)) fail(`outputs = ${show(r.outputs)} is not allowed: use {"trace": true, "snapshots": false}`);
    for (const [k, v] of Object.entries(r.outputs as Record<string, unknown>)) {
      if (k !== 'trace' && k !== 'snapshots') fail(`unknown key 'outputs.${k}': outputs has "trace" and "snapshots"`);
      if (typeof v !== 'boolean') fail(`outputs.${k} = ${show(v)} is not allowed: use true or false`);
      outputs[k as 'trace' | 'snapshots'] = v as boolean;
    }
  }
  let plot: SweepSpec['plot'];
  if (r.plot !== undefined) {
    const p = r.plot as Record<string, unknown>;
    const swept = [...all, ...runs.flatMap((a) => Object.keys(a))];
    if (!isObject(p)) fail(`plot = ${show(p)} is not allowed: use {"x": "<a swept key path>", "y": "extractedCapacity_mAh_g", "series": "<another swept key path>"}`);
    for (const k of Object.keys(p)) if (!['x', 'y', 'series'].includes(k)) fail(`unknown key 'plot.${k}': plot has "x", "y" and "series"`);
    if (typeof p.x !== 'string' || !swept.includes(p.x)) fail(`plot.x = ${show(p.x)} is not allowed: use one of the swept key paths (${swept.map((k) => `"${k}"`).join(', ')})`);
    const xs = [...((grid as Record<string, unknown[]>)[p.x as string] ?? []), ...((zip as Record<string, unknown[]>)[p.x as string] ?? []), ...runs.map((a) => a[p.x as string]).filter((v) => v !== undefined)];
    const notNumber = xs.find((v) => typeof v !== 'number' || !Number.isFinite(v));
    if (notNumber !== undefined) fail(`plot.x = ${show(p.x)} takes values that are not numbers (e.g. ${show(notNumber)}): the x axis needs numbers; use that key as plot.series, and a numeric swept key as plot.x`);
    if (p.series !== undefined && (typeof p.series !== 'string' || !swept.includes(p.series) || p.series === p.x)) fail(`plot.series = ${show(p.series)} is not allowed: use another of the swept key paths (${swept.filter((k) => k !== p.x).map((k) => `"${k}"`).join(', ')})`);
    const y = p.y ?? 'extractedCapacity_mAh_g';
    if (!(PLOT_Y as readonly unknown[]).includes(y)) fail(`plot.y = ${show(y)} is not allowed: use one of ${PLOT_Y.join(', ')}`);
    plot = { x: p.x as string, y: y as (typeof PLOT_Y)[number], ...(p.series ? { series: p.series as string } : {}) };
  }
  return { ...(r.name ? { name: r.name as string } : {}), base: b as SweepSpec['base'], grid, zip, runs, outputs, ...(plot ? { plot } : {}) };
}

function checkKeyPath(path: string, where: string, fail: (m: string) => never): void {
  if (!/^[A-Za-z_][A-Za-z0-9_]*(\.([A-Za-z_][A-Za-z0-9_]*|\d+))*$/.test(path)) {
    fail(`${where}: '${path}' is not a config key path: use dotted keys with list indices as numbers, e.g. "protocol.0.current_mA_g" or "surface.segments"`);
  }
}

/** product(grid) × zip × runs: the assignments in sweep order (the grid's first key varies slowest). */
export function assignments(spec: SweepSpec): Assignment[] {
  let out: Assignment[] = [{}];
  for (const [key, values] of Object.entries(spec.grid)) {
    out = out.flatMap((a) => values.map((v) => ({ ...a, [key]: v })));
  }
  const zipKeys = Object.keys(spec.zip);
  if (zipKeys.length) {
    const n = spec.zip[zipKeys[0]].length;
    out = out.flatMap((a) => Array.from({ length: n }, (_, i) => ({ ...a, ...Object.fromEntries(zipKeys.map((k) => [k, spec.zip[k][i]])) })));
  }
  if (spec.runs.length) out = out.flatMap((a) => spec.runs.map((r) => ({ ...a, ...r })));
  return out;
}

/** The swept key paths, in column order: grid, zip, then those the runs set. */
export function sweptKeys(spec: SweepSpec): string[] {
  const keys = [...Object.keys(spec.grid), ...Object.keys(spec.zip)];
  for (const r of spec.runs) for (const k of Object.keys(r)) if (!keys.includes(k)) keys.push(k);
  return keys;
}

/** The base config of a spec as a raw object (a fresh copy). */
export function baseConfig(spec: SweepSpec, source: string): Record<string, unknown> {
  if ('preset' in spec.base) {
    try { return presetConfig(spec.base.preset); } catch (e) { throw new SweepSpecError(`${source}: base.preset: ${(e as Error).message.replace(/^--preset /, '')}`); }
  }
  return structuredClone(spec.base.config);
}

/** JSON with object keys sorted: equal configs give equal text, whatever order their keys came in. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isObject(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

/**
 * A run's id: the first 12 hex digits of the SHA-256 of its resolved config and of the files it
 * reads (`inputs`, e.g. a mask's SHA-256: a config holds only the mask's path, and a mask edited
 * between two sweeps into one folder must not find the old runs finished).
 */
export function runId(config: SimulationConfig, inputs: string | null = null): string {
  const h = createHash('sha256').update(canonicalJson(config));
  if (inputs !== null) h.update(`\ninputs ${inputs}`);
  return h.digest('hex').slice(0, 12);
}

/**
 * What a run reads besides its config, for its id: a mask particle's file contents (SHA-256; its
 * path is relative to `baseDir`), else null. An unreadable file gives 'unreadable' here; building
 * the run's problem then names the file and why.
 */
export function inputDigest(config: SimulationConfig, baseDir: string): string | null {
  if (config.particle.shape !== 'mask') return null;
  try {
    return `particle.file sha256 ${createHash('sha256').update(readFileSync(path.resolve(baseDir, config.particle.file))).digest('hex')}`;
  } catch {
    return 'particle.file unreadable';
  }
}

/**
 * Every run of `spec`, validated: an error names the run, what it sets and the config's complaint.
 * Paths in the configs (mask files) are relative to `baseDir`.
 * Runs whose resolved configs are equal (e.g. an axis value equal to the base's) are kept once, at
 * their first place; `duplicates` counts the others.
 */
export function expandSweep(spec: SweepSpec, source = 'sweep spec', baseDir = process.cwd()): { runs: PlannedRun[]; duplicates: number; keys: string[] } {
  const base = baseConfig(spec, source);
  const seen = new Set<string>();
  const runs: PlannedRun[] = [];
  let duplicates = 0;
  assignments(spec).forEach((values, k) => {
    const raw = structuredClone(base);
    const what = Object.entries(values).map(([p, v]) => `${p} = ${show(v)}`).join(', ');
    let config: SimulationConfig;
    try {
      for (const [p, v] of Object.entries(values)) setKeyPath(raw, p, structuredClone(v), `'${p}'`);
      config = resolveConfig(raw, `run ${k} (${what})`);
    } catch (e) {
      const first = (e as Error).message.split('\n')[0];
      throw new SweepSpecError(`${source}: ${e instanceof ConfigError && first.startsWith('run ') ? first : `run ${k} (${what}): ${first}`}`);
    }
    const id = runId(config, inputDigest(config, baseDir));
    if (seen.has(id)) { duplicates++; return; }
    seen.add(id);
    runs.push({ index: runs.length, id, values, config });
  });
  return { runs, duplicates, keys: sweptKeys(spec) };
}

/**
 * The shard of run `id` among `count`: from the run's id (a hash), so that a run stays in its shard
 * when the spec is extended or reordered (its finished runs are found again), and balanced in the
 * large (each shard gets 1/count of the runs, give or take the hash's scatter).
 */
export function shardOf(id: string, count: number): number {
  return parseInt(id.slice(0, 8), 16) % count;
}

/** The runs of shard `index` of `count`, in sweep order. */
export function shardRuns<T extends { id: string }>(runs: T[], index: number, count: number): T[] {
  return runs.filter((r) => shardOf(r.id, count) === index);
}

/**
 * The shard from the flags, else from a Slurm array job's environment (SLURM_ARRAY_TASK_ID minus
 * SLURM_ARRAY_TASK_MIN, of SLURM_ARRAY_TASK_COUNT), else the whole sweep (0 of 1).
 */
export function resolveShard(flags: { index?: string; count?: string }, env: Record<string, string | undefined> = process.env): { index: number; count: number; source: 'flags' | 'slurm' | 'none' } {
  const int = (v: string, what: string, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new SweepSpecError(`${what} = '${v}' is not allowed: use an integer ≥ ${min}`);
    return n;
  };
  if (flags.index !== undefined || flags.count !== undefined) {
    if (flags.index === undefined || flags.count === undefined) throw new SweepSpecError('give --shard-index and --shard-count together (e.g. --shard-index 0 --shard-count 4)');
    const count = int(flags.count, '--shard-count', 1);
    const index = int(flags.index, '--shard-index', 0);
    if (index >= count) throw new SweepSpecError(`--shard-index = ${index} is out of range: with --shard-count ${count} use 0 … ${count - 1}`);
    return { index, count, source: 'flags' };
  }
  const id = env.SLURM_ARRAY_TASK_ID;
  const n = env.SLURM_ARRAY_TASK_COUNT;
  if (id !== undefined && n !== undefined && id !== '' && n !== '') {
    const count = int(n, 'SLURM_ARRAY_TASK_COUNT', 1);
    const min = env.SLURM_ARRAY_TASK_MIN ? int(env.SLURM_ARRAY_TASK_MIN, 'SLURM_ARRAY_TASK_MIN', 0) : 0;
    const index = int(id, 'SLURM_ARRAY_TASK_ID', 0) - min;
    if (index < 0 || index >= count) {
      throw new SweepSpecError(`SLURM_ARRAY_TASK_ID = ${id} is out of range: with SLURM_ARRAY_TASK_MIN = ${min} and SLURM_ARRAY_TASK_COUNT = ${count} the tasks are ${min} … ${min + count - 1}; submit the array as --array=0-${count - 1} (a stride or a list of ids is not supported: use consecutive ids)`);
    }
    return { index, count, source: 'slurm' };
  }
  return { index: 0, count: 1, source: 'none' };
}
