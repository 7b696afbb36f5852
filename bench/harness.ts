/**
 * Benchmark harness: a registry of cases, each timed with warm-up and several samples (median and
 * spread), run on every backend in one process so that ratios come from the same run, and NumPy
 * baselines measured by a python3 subprocess in that same run when python3 with NumPy is present.
 */
import { spawnSync } from 'node:child_process';
import type { GpuContext } from '../src/gpu/device';

export interface Timing {
  median_s: number;
  min_s: number;
  max_s: number;
  samples: number;
}

/** One line of the results table. `ratioTo` names the row (by `id`) this one is compared with. */
export interface BenchRow {
  id: string;
  case: string;
  backend: string; // 'gpu', 'cpu-ref', 'numpy', …
  size: string;
  value: number;
  unit: string;
  /** larger is better (throughput) or smaller is better (time, memory) */
  better: 'higher' | 'lower';
  spread?: string;
  /** ids of rows to compute ratios against, e.g. the CPU reference and the NumPy baseline */
  ratioTo?: string[];
  note?: string;
}

export interface BenchContext {
  gpu: GpuContext | null;
  /** smaller sizes and fewer samples (tests, CI smoke) */
  quick: boolean;
  log(message: string): void;
  /** runs a NumPy snippet; returns what it printed as JSON, or null without python3/NumPy */
  numpy(script: string): unknown | null;
}

export interface BenchCase {
  name: string;
  run(ctx: BenchContext): Promise<BenchRow[]>;
}

/** Times `fn` after `warmup` untimed calls; `samples` timed calls; returns median, min and max. */
export async function timeIt(fn: () => unknown | Promise<unknown>, options: { warmup?: number; samples?: number } = {}): Promise<Timing> {
  const warmup = options.warmup ?? 1;
  const samples = Math.max(1, options.samples ?? 5);
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return { median_s: times[Math.floor(times.length / 2)], min_s: times[0], max_s: times[times.length - 1], samples };
}

/**
 * Times several functions sample by sample in turn (a, b, a, b, …) after one untimed warm-up call
 * each, so that a shared machine's changing load falls on all of them alike; one Timing per function.
 */
export async function timeInterleaved(fns: (() => unknown | Promise<unknown>)[], samples: number): Promise<Timing[]> {
  for (const fn of fns) await fn();
  const times: number[][] = fns.map(() => []);
  for (let i = 0; i < Math.max(1, samples); i++) {
    for (const [k, fn] of fns.entries()) {
      const t0 = performance.now();
      await fn();
      times[k].push((performance.now() - t0) / 1000);
    }
  }
  return times.map((t) => {
    t.sort((a, b) => a - b);
    return { median_s: t[Math.floor(t.length / 2)], min_s: t[0], max_s: t[t.length - 1], samples: t.length };
  });
}

export function spreadOf(t: Timing): string {
  return `${((100 * (t.max_s - t.min_s)) / t.median_s).toFixed(0)}%`;
}

let pythonChecked: string | null | undefined;

/** Finds a python3 with NumPy (the baselines are optional: the table says when they are missing). */
export function findNumpyPython(): string | null {
  if (pythonChecked !== undefined) return pythonChecked;
  for (const exe of [process.env.IONFLUX_PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean) as string[]) {
    const r = spawnSync(exe, ['-c', 'import numpy; print(numpy.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return (pythonChecked = exe);
  }
  return (pythonChecked = null);
}

export function runNumpy(script: string): unknown | null {
  const exe = findNumpyPython();
  if (!exe) return null;
  const r = spawnSync(exe, ['-c', script], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`NumPy baseline failed: ${r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string);
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1e5 || (a > 0 && a < 1e-3)) return v.toExponential(3);
  return v.toPrecision(4);
}

/**
 * Renders rows as a fixed-width table, with one ratio column per compared row. A ratio needs a figure
 * on both sides: a skipped peer (value NaN, its note says why) gets no `NaN×` entry.
 */
export function formatTable(rows: BenchRow[]): string {
  const byId = new Map(rows.map((r) => [r.id, r]));
  const ratio = (r: BenchRow) =>
    (Number.isFinite(r.value) ? r.ratioTo ?? [] : [])
      .map((id) => byId.get(id))
      .filter((o): o is BenchRow => o !== undefined && Number.isFinite(o.value))
      .map((o) => `${(r.better === 'higher' ? r.value / o.value : o.value / r.value).toFixed(2)}× vs ${o.backend}`)
      .join(', ');
  const table = [['case', 'backend', 'size', 'value', 'unit', 'spread', 'speed-up', 'note']];
  for (const r of rows) table.push([r.case, r.backend, r.size, fmt(r.value), r.unit, r.spread ?? '', ratio(r), r.note ?? '']);
  const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
  return table.map((row, i) => {
    const line = row.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd();
    return i === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
  }).join('\n');
}
