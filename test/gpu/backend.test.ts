/**
 * `--backend auto` takes the fastest path present: a real GPU, else the CPU reference. On this
 * project's machines the only adapter is software (lavapipe), which auto must pass over and say so,
 * while `--backend gpu` still takes it.
 */
import { expect, test } from 'vitest';
import { selectBackend } from '../../src/gpu/backend';
import { acquireGpu } from '../../src/gpu/device';

test('auto passes over a software adapter and says why; gpu takes it; cpu never opens one', async () => {
  const probe = await acquireGpu();
  const software = probe.report.software;
  probe.device.destroy();
  const auto = await selectBackend('auto');
  if (software) {
    expect(auto.kind).toBe('cpu');
    expect(auto.gpu).toBeUndefined();
    expect(auto.label).toMatch(/^cpu \(TypeScript reference; the only WebGPU adapter is the software one, .*--backend gpu uses it\)$/);
  } else {
    expect(auto.kind).toBe('gpu'); // a real GPU
    auto.gpu?.device.destroy();
  }
  const gpu = await selectBackend('gpu');
  expect(gpu.kind).toBe('gpu');
  expect(gpu.label).toMatch(software ? /software adapter/ : /^gpu \(/);
  gpu.gpu?.device.destroy();
  expect((await selectBackend('cpu')).label).toBe('cpu (TypeScript reference)');
});
