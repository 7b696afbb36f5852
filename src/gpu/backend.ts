/**
 * `--backend auto|gpu|cpu`: which engine a command runs on. `auto` takes a real GPU, then a software
 * WebGPU adapter (Mesa lavapipe, SwiftShader), then the CPU reference; `gpu` insists on an adapter
 * (software accepted) and fails clearly without one; `cpu` never touches WebGPU.
 */
import { acquireGpu, GpuUnavailableError, type GpuContext } from './device';

export type BackendRequest = 'auto' | 'gpu' | 'cpu';

export interface Backend {
  kind: 'gpu' | 'cpu';
  /** present when kind === 'gpu' */
  gpu?: GpuContext;
  /** one line for logs and summary.json, e.g. "gpu (mesa / software / llvmpipe …, software adapter)" */
  label: string;
}

export const BACKENDS: readonly BackendRequest[] = ['auto', 'gpu', 'cpu'];

export function parseBackend(value: string, option = '--backend'): BackendRequest {
  if ((BACKENDS as readonly string[]).includes(value)) return value as BackendRequest;
  throw new Error(`${option} = '${value}' is not allowed: use one of ${BACKENDS.join(', ')}`);
}

export async function selectBackend(request: BackendRequest): Promise<Backend> {
  if (request === 'cpu') return { kind: 'cpu', label: 'cpu (TypeScript float32 reference)' };
  try {
    const gpu = await acquireGpu();
    const label = `gpu (${gpu.report.name}${gpu.report.software ? ', software adapter' : ''})`;
    return { kind: 'gpu', gpu, label };
  } catch (e) {
    if (request === 'gpu' || !(e instanceof GpuUnavailableError)) throw e;
    return { kind: 'cpu', label: `cpu (TypeScript float32 reference; no WebGPU adapter: ${e.message})` };
  }
}
