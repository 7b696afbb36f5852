/**
 * GpuSolver.stateBinding(): the live demo draws and copies the solver's state on the GPU through it
 * (demo/render/gpuField.ts, demo/main.ts). It must name the buffer that holds the current state in
 * the documented layout (int32 fixed point, [ny][nx]), follow the ping-pong, and a copy written into
 * another solver's binding must become that solver's state.
 */
import { expect, test } from 'vitest';
import { useGpu } from '../helpers/gpu';
import { presetConfig, resolveConfig } from '../../src/model/config';
import { buildProblem } from '../../src/solver/problem';
import { GpuSolver } from '../../src/solver/gpu';
import { stepParams, maxStableDt, reachableRange } from '../../src/solver/problem';
import { readBuffer } from '../../src/gpu/device';
import { thetaField } from '../../src/solver/quanta';

const gpu = useGpu();

test('stateBinding names the current state buffer; a copy into another solver becomes its state', async () => {
  const raw = { ...presetConfig('fig4c'), grid: { spacing_um: 0.08 }, protocol: [{ step: 'charge', current_mA_g: 100, duration_min: 5 }] };
  const problem = await buildProblem(resolveConfig(raw));
  const other = await buildProblem(resolveConfig({ ...raw, surface: { segments: [] } })); // same grid, other walls
  const g = gpu();
  const a = await GpuSolver.create(g, problem), b = await GpuSolver.create(g, other);
  try {
    const p = stepParams(problem, problem.config.protocol[0], maxStableDt(problem, reachableRange(problem)));
    a.setStep(p);
    for (const n of [7, 4]) { // an odd and an even count: both ping-pong buffers
      await a.advance(n);
      const s = a.stateBinding();
      expect(s.offset).toBe(0);
      expect(s.size).toBe(4 * problem.grid.nx * problem.grid.ny);
      const theta = thetaField(new Int32Array(await readBuffer(g.device, s.buffer, s.size, s.offset)), problem.theta0);
      const field = await a.field();
      expect(theta).toEqual(field);
      expect(Math.min(...field.filter((v) => !Number.isNaN(v)))).toBeLessThan(1); // it changed
    }
    const from = a.stateBinding(), to = b.stateBinding();
    const enc = g.device.createCommandEncoder();
    enc.copyBufferToBuffer(from.buffer, from.offset, to.buffer, to.offset, from.size);
    g.device.queue.submit([enc.finish()]);
    expect(await b.field()).toEqual(await a.field());
    expect((await b.stats()).meanTheta).toBe((await a.stats()).meanTheta);
  } finally {
    a.destroy();
    b.destroy();
  }
});
