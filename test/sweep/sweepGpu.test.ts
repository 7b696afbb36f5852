/**
 * A sweep on the GPU (the software adapter in CI): runs batched as lanes of one GpuBatch give the
 * same files, bit for bit, as the same runs one per batch (and as a batch of 4 steps per dispatch), and agree with the CPU pool within the
 * solver's stated GPU–CPU tolerance (|Δθ| ≤ 2e-6, test/solver/gpuVsCpu.test.ts).
 */
import { afterAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { planSweep, runSweep } from '../../src/sweep';

const tmp = mkdtempSync(path.join(tmpdir(), 'ionflux-sweep-gpu-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const TOL = 2e-6;
const spec = {
  base: { config: { particle: { shape: 'disk', diameter_um: 1.0 }, grid: { spacing_um: 0.05 }, protocol: [{ step: 'charge', current_mA_g: 200, duration_min: 3 }] } },
  grid: { 'surface.segments': [[], [{ fromDeg: 135, toDeg: 225, eta: 0.3 }]], 'protocol.0.current_mA_g': [200, 800] },
  // a different diffusivity (so a different Δt and table per lane) and a run that stops at its cut-off early
  runs: [{ 'material.diffusivity': { preset: 'knee' } }, { 'material.diffusivity': { preset: 'constant', D_m2_s: 3e-16 }, 'cutoff.surfaceTheta': 0.97 }],
};
const trace = (dir: string, id: string) => readFileSync(path.join(dir, 'runs', id, 'trace.csv'), 'utf8');
const rows = (text: string) => text.trim().split('\n').slice(1).map((l) => l.split(',').map((v) => (v === '' ? null : Number(v))));

describe('sweep on the GPU', () => {
  test('batched lanes = one run per batch (bit for bit) = the CPU within 2e-6', async () => {
    const plan = planSweep(spec, 'spec');
    expect(plan.runs).toHaveLength(8);
    const batched = await runSweep(plan, { out: path.join(tmp, 'batched'), backend: 'gpu' });
    const single = await runSweep(plan, { out: path.join(tmp, 'single'), backend: 'gpu', jobs: 1 });
    // temporal blocking: 4 steps per dispatch, lanes stopping in different blocks, the same files
    const blocked = await runSweep(plan, { out: path.join(tmp, 'blocked'), backend: 'gpu', stepsPerDispatch: 4 });
    const cpu = await runSweep(plan, { out: path.join(tmp, 'cpu'), backend: 'cpu' });
    expect([batched.computed, single.computed, blocked.computed, cpu.computed]).toEqual([8, 8, 8, 8]);
    expect(batched.backend).toMatch(/^gpu/);
    const stops = new Set(cpu.records.map((r) => r.stopReason));
    expect(stops).toEqual(new Set(['protocol-end', 'cutoff']));
    for (const run of plan.runs) {
      expect(trace(path.join(tmp, 'batched'), run.id)).toBe(trace(path.join(tmp, 'single'), run.id));
      expect(trace(path.join(tmp, 'blocked'), run.id)).toBe(trace(path.join(tmp, 'single'), run.id));
      const g = rows(trace(path.join(tmp, 'batched'), run.id));
      const c = rows(trace(path.join(tmp, 'cpu'), run.id));
      expect(g.length).toBe(c.length);
      for (let i = 0; i < g.length; i++) {
        expect(g[i][0]).toBeCloseTo(c[i][0] as number, 6); // time
        expect(Math.abs((g[i][2] as number) - (c[i][2] as number))).toBeLessThanOrEqual(TOL); // mean θ
        expect(Math.abs((g[i][3] as number) - (c[i][3] as number))).toBeLessThanOrEqual(10 * TOL); // min surface θ
      }
    }
    const byId = (rs: typeof cpu.records) => new Map(rs.map((r) => [r.id, r]));
    const b = byId(batched.records), c = byId(cpu.records);
    for (const [id, r] of c) {
      expect(b.get(id)!.stopReason).toBe(r.stopReason);
      expect(Math.abs(b.get(id)!.extractedCapacity_mAh_g - r.extractedCapacity_mAh_g)).toBeLessThanOrEqual(TOL * 275);
    }
  });
});
