/**
 * The GPU fixture for kernel tests: one real WebGPU device per test file (Dawn on Mesa lavapipe in
 * CI, whatever adapter the machine has elsewhere), a validation error scope around each use, and the
 * device destroyed after the file. Nothing here is mocked: when no adapter exists the GPU tests fail
 * unless IONFLUX_ALLOW_NO_GPU=1 says that this machine is known to have none.
 */
import { afterAll, beforeAll } from 'vitest';
import { acquireGpu, readBuffer, type GpuContext } from '../../src/gpu/device';
import type { GpuSolver } from '../../src/solver/gpu';

export function useGpu(): () => GpuContext {
  let ctx: GpuContext | undefined;
  beforeAll(async () => {
    try {
      ctx = await acquireGpu();
    } catch (e) {
      if (process.env.IONFLUX_ALLOW_NO_GPU === '1') return;
      throw e;
    }
  });
  afterAll(() => ctx?.device.destroy());
  return () => {
    if (!ctx) throw new Error('no WebGPU adapter (set up the CPU driver: bash ../shared/gpu/setup-webgpu-cpu.sh)');
    return ctx;
  };
}

/** Runs `fn` and fails if it raised a WebGPU validation error. */
export async function expectNoGpuError<T>(device: GPUDevice, fn: () => Promise<T>): Promise<T> {
  device.pushErrorScope('validation');
  const out = await fn();
  const err = await device.popErrorScope();
  if (err) throw new Error(`WebGPU validation error: ${err.message}`);
  return out;
}

/** max |a − b| and max |a − b| / max(|b|, floor) over finite entries; counts NaN mismatches */
export function compareArrays(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-6) {
  let maxAbs = 0, maxRel = 0, nanMismatch = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i], y = b[i];
    if (Number.isNaN(x) || Number.isNaN(y)) { if (Number.isNaN(x) !== Number.isNaN(y)) nanMismatch++; continue; }
    const d = Math.abs(x - y);
    maxAbs = Math.max(maxAbs, d);
    maxRel = Math.max(maxRel, d / Math.max(Math.abs(y), floor));
  }
  return { maxAbs, maxRel, nanMismatch };
}

/** A GPU lane's int32 state, as its ξ buffer holds it (GpuSolver.stateBinding). */
export async function laneState(gpu: GpuContext, lane: GpuSolver): Promise<Int32Array> {
  const b = lane.stateBinding();
  return new Int32Array(await readBuffer(gpu.device, b.buffer, b.size, b.offset));
}
