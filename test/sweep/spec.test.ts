/**
 * Sweep specs: expansion order and count (product(grid) × zip × runs), ids as hashes of the resolved
 * config (equal configs, equal ids; duplicates dropped), shards (deterministic, disjoint, complete;
 * from a Slurm array's environment), and bad specs refused with one line naming the key.
 */
import { describe, expect, test } from 'vitest';
import { assignments, canonicalJson, expandSweep, parseSweepSpec, resolveShard, runId, shardOf, shardRuns, SweepSpecError } from '../../src/sweep/spec';
import { planSweep, runMetrics, runSweep, sweepPreset } from '../../src/sweep';
import { presetConfig, resolveConfig } from '../../src/model/config';

const spec = (extra: Record<string, unknown>) => parseSweepSpec({ base: { preset: 'fig4a' }, ...extra });

function specError(raw: unknown): string {
  try {
    const s = parseSweepSpec(raw, 'spec');
    expandSweep(s, 'spec');
  } catch (e) {
    expect(e).toBeInstanceOf(SweepSpecError);
    expect((e as Error).message).not.toContain('\n');
    return (e as Error).message;
  }
  throw new Error('expected a SweepSpecError');
}

describe('expansion', () => {
  test('grid is the cartesian product (first key slowest), zip pairs, runs multiply', () => {
    const s = spec({
      grid: { 'protocol.0.current_mA_g': [50, 100], 'initialTheta': [1, 0.9, 0.8] },
      zip: { 'cutoff.surfaceTheta': [0.2, 0.3], 'optics.kappa': [1, 2] },
      runs: [{ 'grid.spacing_um': 0.04 }, { 'grid.spacing_um': 0.08 }],
    });
    const a = assignments(s);
    expect(a).toHaveLength(2 * 3 * 2 * 2);
    expect(a[0]).toEqual({ 'protocol.0.current_mA_g': 50, initialTheta: 1, 'cutoff.surfaceTheta': 0.2, 'optics.kappa': 1, 'grid.spacing_um': 0.04 });
    expect(a[1]['grid.spacing_um']).toBe(0.08);
    expect(a[2]['cutoff.surfaceTheta']).toBe(0.3);
    expect(a[2]['optics.kappa']).toBe(2);
    expect(a[4].initialTheta).toBe(0.9);
    expect(a[12]['protocol.0.current_mA_g']).toBe(100);
    const { runs, keys } = expandSweep(s);
    expect(runs).toHaveLength(24);
    expect(keys).toEqual(['protocol.0.current_mA_g', 'initialTheta', 'cutoff.surfaceTheta', 'optics.kappa', 'grid.spacing_um']);
    expect(runs[13].config.protocol[0].current_mA_g).toBe(100);
    expect(runs[13].config.grid.spacing_um).toBe(0.08);
    expect(runs.map((r) => r.index)).toEqual(runs.map((_, i) => i));
  });

  test('a run id is the hash of the resolved config: key order and defaults do not matter, values do', () => {
    const a = resolveConfig(presetConfig('fig4c'));
    const shuffled = Object.fromEntries(Object.entries(presetConfig('fig4c')).reverse());
    expect(runId(resolveConfig(shuffled))).toBe(runId(a));
    expect(canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] })).toBe('{"a":[2,{"c":4,"d":3}],"b":1}');
    const other = resolveConfig({ ...presetConfig('fig4c'), initialTheta: 0.99 });
    expect(runId(other)).not.toBe(runId(a));
    expect(runId(a)).toMatch(/^[0-9a-f]{12}$/);
  });

  test('runs equal to one another (an axis value equal to the base) are computed once', () => {
    const { runs, duplicates } = expandSweep(spec({ grid: { 'protocol.0.current_mA_g': [100, 50, 100] } }));
    expect(runs.map((r) => r.config.protocol[0].current_mA_g)).toEqual([100, 50]);
    expect(duplicates).toBe(1);
  });

  test('fig5b: 12 runs, 4 rates × 3 surfaces, to the 0.2 cut-off', () => {
    const plan = planSweep(sweepPreset('fig5b'), 'preset fig5b');
    expect(plan.runs).toHaveLength(12);
    const rates = plan.runs.map((r) => r.config.protocol[0].current_mA_g);
    expect([...new Set(rates)]).toEqual([50, 100, 200, 400]);
    const etas = plan.runs.map((r) => r.config.surface.segments.map((s) => s.eta).join());
    expect([...new Set(etas)]).toEqual(['', '0.7', '0.3']);
    for (const r of plan.runs) {
      expect(r.config.cutoff.surfaceTheta).toBe(0.2);
      for (const s of r.config.surface.segments) expect([s.fromDeg, s.toDeg]).toEqual([135, 225]);
    }
  });
});

describe('shards', () => {
  test('disjoint, complete, in sweep order, balanced in the large, and stable when runs are added', () => {
    const runs = expandSweep(spec({ grid: { 'protocol.0.current_mA_g': Array.from({ length: 600 }, (_, k) => 10 + k) } })).runs;
    for (const n of [1, 2, 3, 7, 40]) {
      const parts = Array.from({ length: n }, (_, i) => shardRuns(runs, i, n));
      expect(parts.flat().map((r) => r.index).sort((a, b) => a - b)).toEqual(runs.map((r) => r.index));
      for (const p of parts) expect(p.map((r) => r.index)).toEqual([...p.map((r) => r.index)].sort((a, b) => a - b));
      // a hash: binomially scattered about 600/n (4σ)
      for (const p of parts) expect(Math.abs(p.length - 600 / n)).toBeLessThan(4 * Math.sqrt((600 / n) * (1 - 1 / n)) + 1);
    }
    // a value inserted at the front: every earlier run keeps its shard
    const wider = expandSweep(spec({ grid: { 'protocol.0.current_mA_g': [5, ...Array.from({ length: 600 }, (_, k) => 10 + k)] } })).runs;
    const before = new Map(runs.map((r) => [r.id, shardOf(r.id, 3)]));
    for (const r of wider) if (before.has(r.id)) expect(shardOf(r.id, 3)).toBe(before.get(r.id));
    expect(wider[1].index).toBe(1);
  });

  test('from the flags, else from a Slurm array task, else the whole sweep', () => {
    expect(resolveShard({ index: '2', count: '5' }, {})).toEqual({ index: 2, count: 5, source: 'flags' });
    expect(resolveShard({}, { SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_COUNT: '3', SLURM_ARRAY_TASK_MIN: '2' })).toEqual({ index: 2, count: 3, source: 'slurm' });
    expect(resolveShard({}, { SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_COUNT: '3' })).toEqual({ index: 0, count: 3, source: 'slurm' });
    expect(resolveShard({ index: '0', count: '1' }, { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '3' }).source).toBe('flags');
    expect(resolveShard({}, {})).toEqual({ index: 0, count: 1, source: 'none' });
  });

  test('out of range or half-given shards are refused', () => {
    const err = (f: () => unknown) => { try { f(); } catch (e) { return (e as Error).message; } throw new Error('no error'); };
    expect(err(() => resolveShard({ index: '3', count: '3' }, {}))).toMatch(/--shard-index = 3 is out of range: with --shard-count 3 use 0 … 2/);
    expect(err(() => resolveShard({ index: '-1', count: '3' }, {}))).toMatch(/--shard-index = '-1' is not allowed/);
    expect(err(() => resolveShard({ index: '1' }, {}))).toMatch(/together/);
    expect(err(() => resolveShard({ index: '0', count: '0' }, {}))).toMatch(/--shard-count = '0'/);
    expect(err(() => resolveShard({}, { SLURM_ARRAY_TASK_ID: '6', SLURM_ARRAY_TASK_COUNT: '3' }))).toMatch(/SLURM_ARRAY_TASK_ID = 6 is out of range.*--array=0-2/);
  });
});

describe('bad specs: one line naming the key, the value and what is allowed', () => {
  test.each([
    [{ grid: { a: [1] } }, /base = undefined is not allowed/],
    [{ base: { preset: 'fig9z' }, grid: { 'initialTheta': [1] } }, /base.preset: 'fig9z' is not allowed: use one of fig4a/],
    [{ base: { preset: 'fig4a' } }, /nothing to sweep/],
    [{ base: { preset: 'fig4a' }, grid: { 'initialTheta': [] } }, /grid\["initialTheta"\] is an empty list/],
    [{ base: { preset: 'fig4a' }, grid: { 'initialTheta': 0.9 } }, /grid\["initialTheta"\] = 0.9 is not allowed: use a list/],
    [{ base: { preset: 'fig4a' }, zip: { 'initialTheta': [1, 0.9], 'optics.kappa': [1] } }, /zip lists must have equal lengths, got "initialTheta": 2, "optics.kappa": 1/],
    [{ base: { preset: 'fig4a' }, grid: { 'grid.spacing': [0.04] } }, /run 0 \(grid.spacing = 0.04\): unknown key 'grid.spacing'/],
    [{ base: { preset: 'fig4a' }, grid: { 'protocol.0.current_mA_g': [100, -5] } }, /run 1 \(protocol.0.current_mA_g = -5\): protocol\[0\].current_mA_g = -5 is not allowed/],
    // a script's spec object may hold NaN and Infinity (a JSON file cannot): named as written, not as JSON's null
    [{ base: { preset: 'fig4a' }, grid: { 'protocol.0.current_mA_g': [Infinity] } }, /run 0 \(protocol.0.current_mA_g = Infinity\): protocol\[0\].current_mA_g = Infinity is not allowed/],
    [{ base: { preset: 'fig4a' }, runs: [{ 'surface.segments': [{ fromDeg: 135, toDeg: NaN, eta: 0.3 }] }] }, /run 0 \(surface.segments = \[\{"fromDeg":135,"toDeg":NaN,"eta":0.3\}\]\): surface.segments\[0\].toDeg = NaN is not allowed/],
    [{ base: { preset: 'fig4a' }, grid: { 'initialTheta': [1] }, zip: { 'initialTheta': [1] } }, /axis of both grid and zip/],
    [{ base: { preset: 'fig4a' }, grid: { 'a..b': [1] } }, /'a..b' is not a config key path/],
    [{ base: { preset: 'fig4a' }, gird: { 'initialTheta': [1] } }, /unknown key 'gird'/],
    [{ base: { preset: 'fig4a' }, runs: [] }, /runs = \[\] is not allowed/],
    [{ base: { preset: 'fig4a' }, runs: [{ 'initialTheta': 0.9 }], outputs: { fields: true } }, /unknown key 'outputs.fields'/],
    [{ base: { preset: 'fig4a' }, runs: [{ 'initialTheta': 0.9 }], plot: { x: 'optics.kappa' } }, /plot.x = "optics.kappa" is not allowed: use one of the swept key paths \("initialTheta"\)/],
    [{ base: { preset: 'fig4a' }, grid: { 'surface.segments': [[], [{ fromDeg: 135, toDeg: 225, eta: 0.3 }]], 'protocol.0.current_mA_g': [50, 100] }, plot: { x: 'surface.segments', series: 'protocol.0.current_mA_g' } }, /plot.x = "surface.segments" takes values that are not numbers \(e.g. \[\]\): the x axis needs numbers; use that key as plot.series/],
  ])('%j', (raw, pattern) => {
    expect(specError(raw)).toMatch(pattern);
  });
});

describe('run metrics', () => {
  test('maxComOffset leaves out the remnant (under 0.2 unreacted), coreVanish is the first row with none', () => {
    const frac = [1, 0.5, 0.25, 0.1, 0.01, 0], off = [0, 0.1, 0.2, 0.5, 0.6, null];
    const trace = frac.map((u, i) => ({ time_s: 60 * i, unreactedFraction: u, comOffset_um: off[i], comOffsetRel: off[i] === null ? null : off[i]! / 1.2 }));
    const m = runMetrics({ trace } as unknown as Parameters<typeof runMetrics>[0]);
    expect(m.maxComOffset_um).toBe(0.2);
    expect(m.maxComOffsetRel).toBeCloseTo(0.2 / 1.2, 12);
    expect(m.coreVanish_s).toBe(300);
    // a run that never gets below 0.2 keeps its whole trace
    expect(runMetrics({ trace: trace.slice(0, 3) } as unknown as Parameters<typeof runMetrics>[0]).maxComOffset_um).toBe(0.2);
  });
});

test('runSweep checks its options as the CLI checks its flags: no out, a backend typo, jobs < 1', async () => {
  const plan = planSweep({ base: { preset: 'fig4a' }, grid: { 'protocol.0.current_mA_g': [50, 100] } }, 'spec');
  await expect(runSweep(plan, {} as never)).rejects.toThrow(/^runSweep: options\.out = undefined is not allowed: give the sweep's folder/);
  await expect(runSweep(plan, { out: '/tmp/never-written', backend: 'cuda' as never })).rejects.toThrow(/^runSweep: options\.backend = 'cuda' is not allowed: use one of auto, gpu, cpu/);
  for (const jobs of [0, -1, 1.5]) await expect(runSweep(plan, { out: '/tmp/never-written', jobs })).rejects.toThrow(`runSweep: options.jobs = ${jobs} is not allowed: use a whole number ≥ 1`);
});
