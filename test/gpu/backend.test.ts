/**
 * `--backend auto` takes the fastest path present: a real GPU, else the CPU reference. On this
 * project's machines the only adapter is software (lavapipe), which auto must pass over and say so,
 * while `--backend gpu` still takes it.
 */
import { expect, test } from 'vitest';
import { readdirSync } from 'node:fs';
import { gpuDeviceNodes, selectBackend } from '../../src/gpu/backend';
import { acquireGpu } from '../../src/gpu/device';

test('auto passes over a software adapter and says why; gpu takes it; cpu never opens one', async () => {
  const probe = await acquireGpu();
  const software = probe.report.software;
  probe.device.destroy();
  const auto = await selectBackend('auto', undefined, { probeAlways: true });
  if (software) {
    expect(auto.kind).toBe('cpu');
    expect(auto.gpu).toBeUndefined();
    expect(auto.label).toMatch(/^cpu \(the CPU reference; the only WebGPU adapter is the software one, .*--backend gpu uses it\)$/);
  } else {
    expect(auto.kind).toBe('gpu'); // a real GPU
    auto.gpu?.device.destroy();
  }
  const gpu = await selectBackend('gpu');
  expect(gpu.kind).toBe('gpu');
  expect(gpu.label).toMatch(software ? /software adapter/ : /^gpu \(/);
  gpu.gpu?.device.destroy();
  expect((await selectBackend('cpu')).label).toBe('cpu (the CPU reference)');
});

test('gpuDeviceNodes: the /dev names a GPU driver uses, and nothing else', () => {
  expect(gpuDeviceNodes(['null', 'tty0', 'dri', 'nvidia0', 'nvidiactl', 'nvidia-uvm', 'dxg', 'kgsl-3d0', 'mali0', 'nvhost-ctrl-gpu', 'nvmap', 'nvgpu', 'galcore', 'fb0', 'driver', 'vfio'])).toEqual(['dri', 'nvidia0', 'nvidiactl', 'nvidia-uvm', 'dxg', 'kgsl-3d0', 'mali0', 'nvhost-ctrl-gpu', 'nvmap', 'nvgpu', 'galcore']);
  expect(gpuDeviceNodes(['null', 'zero', 'random', 'shm', 'pts'])).toEqual([]);
});

test.runIf(process.platform === 'linux')('auto on Linux without a GPU device node takes the CPU at once and says why; with one it asks the adapter', async () => {
  const nodes = gpuDeviceNodes(readdirSync('/dev'));
  const auto = await selectBackend('auto');
  if (nodes.length === 0) {
    expect(auto.kind).toBe('cpu');
    expect(auto.label).toBe('cpu (the CPU reference; no GPU device on this machine (/dev has none of dri, nvidia*, dxg, kgsl*, mali*, nvhost*, nvmap, nvgpu, galcore): --backend gpu looks for a software WebGPU adapter)');
  } else {
    // a device node: the adapter decides (a real GPU, or the software-only message)
    expect(auto.label).not.toMatch(/no GPU device on this machine/);
    auto.gpu?.device.destroy();
  }
});

test('a request that is not auto, gpu or cpu is refused, naming it (not taken as a GPU); none is auto', async () => {
  for (const bad of ['cuda', 'GPU', '', 7, null]) {
    await expect(selectBackend(bad as never), String(bad)).rejects.toThrow(/^selectBackend: request = .* is not allowed: use one of auto, gpu, cpu \(lower case\)$/);
  }
  await expect(selectBackend('cuda' as never)).rejects.toMatchObject({ name: 'UserError' });
  expect((await selectBackend()).label).toBe((await selectBackend('auto')).label);
});
