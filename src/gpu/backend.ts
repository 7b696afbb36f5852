/**
 * `--backend auto|gpu|cpu`: which engine a command runs on. `auto` takes a real GPU, else the CPU
 * reference (a software WebGPU adapter such as Mesa lavapipe is slower than the CPU reference, so
 * auto passes it over and says so; on Linux with no GPU device node it does not even ask Dawn);
 * `gpu` insists on an adapter
 * (software accepted) and fails clearly without one; `cpu` never touches WebGPU.
 */
import { readdirSync } from 'node:fs'; // a stand-in in the browser bundle (vite.config.ts); used only on Linux in Node
import { acquireGpu, GpuUnavailableError, SoftwareAdapterOnly, type GpuContext } from './device';
import { UserError } from '../errors';

export type BackendRequest = 'auto' | 'gpu' | 'cpu';

export interface Backend {
  kind: 'gpu' | 'cpu';
  /** present when kind === 'gpu' */
  gpu?: GpuContext;
  /** one line for logs and summary.json, e.g. "gpu (mesa / software / llvmpipe …, software adapter)" */
  label: string;
}

/** The values `--backend` and selectBackend accept. */
export const BACKENDS: readonly BackendRequest[] = ['auto', 'gpu', 'cpu'];

/** `value` as a BackendRequest; throws a one-line Error naming `option`, the value and the allowed ones. */
export function parseBackend(value: string, option = '--backend'): BackendRequest {
  if ((BACKENDS as readonly string[]).includes(value)) return value as BackendRequest;
  throw new UserError(`${option} = '${value}' is not allowed: use one of ${BACKENDS.join(', ')}`);
}

/** `request` if it is one of BACKENDS, else a UserError naming `what` (a library caller's typo, 'cuda' or 'GPU', must not pick a backend). */
export function checkBackendRequest(request: unknown, what = 'backend'): BackendRequest {
  if (typeof request === 'string' && (BACKENDS as readonly string[]).includes(request)) return request as BackendRequest;
  throw new UserError(`${what} = ${typeof request === 'string' ? `'${request}'` : String(request)} is not allowed: use one of ${BACKENDS.join(', ')} (lower case)`);
}

/**
 * The names in /dev through which a GPU driver reaches hardware on Linux: DRM (/dev/dri: AMD, Intel,
 * Mesa drivers), NVIDIA's /dev/nvidia*, WSL2's /dev/dxg, Adreno's /dev/kgsl*, Mali's /dev/mali*,
 * Jetson's /dev/nvhost*, /dev/nvmap and /dev/nvgpu (passed to containers without /dev/dri), Vivante's
 * /dev/galcore.
 */
export function gpuDeviceNodes(names: readonly string[]): string[] {
  return names.filter((n) => /^(dri|nvidia.*|dxg|kgsl.*|mali.*|nvhost.*|nvmap|nvgpu|galcore)$/.test(n));
}
const GPU_NODE_NAMES = 'dri, nvidia*, dxg, kgsl*, mali*, nvhost*, nvmap, nvgpu, galcore';

/**
 * Why no hardware adapter can exist here, or null when one may: on Linux a GPU is reached through a
 * device node, so a /dev without any (a VM or container with no GPU passed through) answers the
 * question without loading Dawn and asking Vulkan (~50 ms, and the native library's warnings).
 * Elsewhere (other systems, browsers, an unreadable /dev) the adapter is asked.
 */
function noGpuHardware(): string | null {
  if (typeof process === 'undefined' || process.platform !== 'linux' || !process.versions?.node) return null;
  try {
    return gpuDeviceNodes(readdirSync('/dev')).length === 0 ? `no GPU device on this machine (/dev has none of ${GPU_NODE_NAMES})` : null;
  } catch {
    return null;
  }
}

/**
 * Under `auto` any failure to get a working device (no adapter, a driver error, a lost device) falls
 * back to the CPU with the reason in the label; under `gpu` it is a GpuUnavailableError (one line).
 * `auto` on Linux without a GPU device node takes the CPU at once (noGpuHardware); `probeAlways`
 * (tests) asks the adapter anyway.
 */
export async function selectBackend(request: BackendRequest = 'auto', onLost?: (why: string) => void, options: { probeAlways?: boolean } = {}): Promise<Backend> {
  checkBackendRequest(request, 'selectBackend: request');
  if (request === 'cpu') return { kind: 'cpu', label: 'cpu (the CPU reference)' };
  if (request === 'auto' && !options.probeAlways) {
    const none = noGpuHardware();
    if (none) return { kind: 'cpu', label: `cpu (the CPU reference; ${none}: --backend gpu looks for a software WebGPU adapter)` };
  }
  try {
    // a software adapter (lavapipe, SwiftShader) runs the WGSL kernels on the CPU, ~4× slower than
    // the CPU reference (docs/performance.md): auto takes the faster path; --backend gpu still uses it.
    // `process` does not exist in a browser: there the device-lost notice goes to the console.
    const notice = (why: string) => `ionflux: the GPU device was lost (${why})`;
    const gpu = await acquireGpu({ rejectSoftware: request === 'auto', onLost: onLost ?? ((why) => (typeof process !== 'undefined' && process.stderr ? process.stderr.write(`${notice(why)}\n`) : console.error(notice(why)))) });
    const label = `gpu (${gpu.report.name}${gpu.report.software ? ', software adapter' : ''})`;
    return { kind: 'gpu', gpu, label };
  } catch (e) {
    if (e instanceof SoftwareAdapterOnly) {
      return { kind: 'cpu', label: `cpu (the CPU reference; the only WebGPU adapter is the software one, ${e.report.name}, slower than the CPU reference: --backend gpu uses it)` };
    }
    const why = (e as Error).message;
    if (request === 'gpu') throw e instanceof GpuUnavailableError ? e : new GpuUnavailableError(`--backend gpu: no usable WebGPU device: ${why}`);
    return { kind: 'cpu', label: `cpu (the CPU reference; no usable WebGPU device: ${why})` };
  }
}
