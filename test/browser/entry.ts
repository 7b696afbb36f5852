/**
 * Runs in headless Chromium (see solver.browser.test.ts): the same library as in Node, with the
 * device from navigator.gpu. Publishes a GPU-vs-CPU comparison on window.__ionflux.
 */
import { acquireGpu } from '../../src/gpu/device';
import { presetConfig, resolveConfig } from '../../src/model/config';
import { buildProblem } from '../../src/solver/problem';
import { CpuSolver } from '../../src/solver/cpu';
import { GpuSolver } from '../../src/solver/gpu';
import { runSimulation } from '../../src/solver/run';

async function main() {
  const raw = presetConfig('fig4c');
  (raw.grid as { spacing_um: number }).spacing_um = 0.06;
  raw.protocol = [{ step: 'charge', current_mA_g: 100, duration_min: 5 }];
  raw.snapshots_min = [5];
  const problem = await buildProblem(resolveConfig(raw));
  const gpu = await acquireGpu();
  const g = await GpuSolver.create(gpu, problem);
  const gr = await runSimulation(problem, g);
  const cr = await runSimulation(problem, new CpuSolver(problem));
  let maxAbs = 0;
  const a = gr.snapshots[0].field, b = cr.snapshots[0].field;
  for (let i = 0; i < a.length; i++) if (!Number.isNaN(b[i])) maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
  g.destroy();
  gpu.device.destroy();
  return { adapter: gpu.report.name, backend: g.backend, steps: [gr.steps, cr.steps], maxAbs, meanTheta: gr.snapshots[0].meanTheta, comOffset_um: gr.snapshots[0].comOffset_um };
}

main().then(
  (r) => { (window as unknown as { __ionflux: unknown }).__ionflux = r; },
  (e) => { (window as unknown as { __ionflux: unknown }).__ionflux = { error: String(e?.stack ?? e) }; },
);
