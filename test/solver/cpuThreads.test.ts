/** The two-thread CPU solver gives bit-identical fields to the single-threaded one (same code, same order per cell). */
import { expect, test } from 'vitest';
import { presetConfig, resolveConfig } from '../../src/model/config';
import { buildProblem } from '../../src/solver/problem';
import { CpuSolver } from '../../src/solver/cpu';
import { runSimulation } from '../../src/solver/run';

test('2 threads = 1 thread, bit for bit, through a cut-off', async () => {
  const raw = presetConfig('aged');
  raw.grid = { spacing_um: 0.05 };
  raw.protocol = [{ step: 'charge', current_mA_g: 1500, duration_min: 60 }, { step: 'rest', duration_min: 2 }];
  raw.snapshots_min = [1, 2];
  const problem = await buildProblem(resolveConfig(raw));
  const one = new CpuSolver(problem);
  // every step offered to the helper, even on a busy machine (threadPacer.ts would step alone there)
  const two = await CpuSolver.create(problem, { threads: true, handshakeTestHooks: { alwaysTwoThreads: true } });
  expect(two.backend).toMatch(/2 threads/);
  try {
    const a = await runSimulation(problem, one);
    const b = await runSimulation(problem, two);
    expect(a.protocol[0].endReason).toBe('cutoff');
    expect(b.steps).toBe(a.steps);
    for (let i = 0; i < a.snapshots.length; i++) {
      const fa = a.snapshots[i].field, fb = b.snapshots[i].field;
      let same = 0;
      for (let k = 0; k < fa.length; k++) if (Object.is(fa[k], fb[k])) same++;
      expect(same).toBe(fa.length);
    }
  } finally {
    two.destroy();
  }
});
