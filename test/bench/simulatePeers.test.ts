/**
 * The `simulate-peers` bench case (issue 7): the quick run (0.02 µm, one sample) gives ionflux's
 * whole-process and run-loop rows and the NumPy (and, where it imports, Numba) peer rows, with figures
 * only when the peer's final mean θ agreed with ionflux's within 1e-4; and the NumPy peer on its own
 * conserves the charge passed through the wall (a known answer, independent of ionflux). Uses the
 * built CLI: `npm run build` first.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from 'vitest';
import { exportProblem, MEAN_THETA_TOLERANCE, PEER_SCRIPT, simulatePeersCases, simulatePeersConfig } from '../../bench/cases/simulatePeers';
import { findNumpyPython } from '../../bench/harness';
import { decodeNpy } from '../../src/io/npy';

const ROOT = path.resolve(__dirname, '..', '..');
const python = findNumpyPython();

test('simulate-peers --quick: rows at 0.02 µm, ratios, the peers agree with ionflux', async () => {
  expect(existsSync(path.join(ROOT, 'dist', 'cli.js')), 'dist/cli.js is missing: run `npm run build` first').toBe(true);
  const c = simulatePeersCases.find((k) => k.name === 'simulate-peers');
  if (!c) throw new Error('no bench case "simulate-peers"');
  const rows = await c.run({ gpu: null, quick: true, log: () => {}, numpy: () => null });
  const byId = new Map(rows.map((r) => [r.id, r]));
  expect([...byId.keys()].sort()).toEqual(['simpeers-0.02-ionflux', 'simpeers-0.02-ionflux-run', 'simpeers-0.02-numba', 'simpeers-0.02-numba-loop', 'simpeers-0.02-numba2', 'simpeers-0.02-numba2-loop', 'simpeers-0.02-numpy', 'simpeers-0.02-numpy-loop']);
  const ours = byId.get('simpeers-0.02-ionflux')!;
  expect(ours.value, ours.note).toBeGreaterThan(0);
  expect(ours.ratioTo).toEqual(['simpeers-0.02-numpy', 'simpeers-0.02-numba', 'simpeers-0.02-numba2']);
  expect(ours.size).toContain('3000 steps');
  // 5 min at 100 mA/g out of 275 mAh/g: Δθ = 100·(5/60)/275 exactly, by conservation
  expect(byId.get('simpeers-0.02-ionflux-run')!.note).toMatch(/final mean θ 0\.96969/);
  if (python) {
    const np = byId.get('simpeers-0.02-numpy')!;
    // a figure only when the work was proven equal (else NaN and a MISMATCH note)
    expect(np.value, np.note).toBeGreaterThan(0);
    expect(np.note).toMatch(/\|Δ\| vs ionflux [0-9.]+e-\d+/);
    const d = Number(/\|Δ\| vs ionflux ([0-9.e+-]+)/.exec(np.note ?? '')![1]);
    expect(d).toBeLessThanOrEqual(MEAN_THETA_TOLERANCE);
    expect(byId.get('simpeers-0.02-numpy-loop')!.value).toBeGreaterThan(0);
  }
  for (const k of ['numba', 'numba2']) {
    const nb = byId.get(`simpeers-0.02-${k}`)!;
    if (!Number.isFinite(nb.value)) expect(nb.note).toMatch(/skipped|FAILED/);
    else expect(nb.note).toMatch(/Numba .*\|Δ\| vs ionflux/);
  }
}, 180000);

test.skipIf(!python)('the NumPy peer conserves the charge passed through the wall (known answer)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ionflux-test-simpeers-'));
  try {
    const raw = simulatePeersConfig(0.04);
    const info = await exportProblem(raw, dir);
    writeFileSync(path.join(dir, 'peer.py'), PEER_SCRIPT);
    const r = spawnSync(python as string, [path.join(dir, 'peer.py'), 'numpy', dir, path.join(dir, 'theta.npy'), '0'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop() as string);
    expect(out.steps).toBe(info.steps);
    expect(out.trace.length).toBe(30); // a trace row every 10 s of 5 min
    // Σ wall fluxes / cells: the stencil moves Li between cells, only the wall removes it
    const p = JSON.parse(readFileSync(path.join(dir, 'problem.json'), 'utf8'));
    const w = decodeNpy(readFileSync(path.join(dir, 'wall_weight.npy'))).data;
    const sumW = w.reduce((a, b) => a + b, 0);
    const removed = p.segments.reduce((a: number, s: { n: number; fluxPerStep: number }) => a + s.n * s.fluxPerStep * sumW, 0) / info.cells;
    expect(Math.abs(out.meanTheta - (1 - removed))).toBeLessThan(1e-5);
    expect(1 - out.meanTheta).toBeCloseTo(100 * (5 / 60) / 275, 5);
    // the final field: θ inside, NaN outside, below θ0 near the surface
    const theta = decodeNpy(readFileSync(path.join(dir, 'theta.npy'))).data;
    expect(theta.length).toBe(info.nx * info.ny);
    expect(theta.filter((v) => !Number.isNaN(v)).length).toBe(info.cells);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60000);
