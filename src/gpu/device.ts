/**
 * Acquiring a WebGPU device, in the browser (`navigator.gpu`) or in Node (the npm package `webgpu`,
 * Google's Dawn). Everything that talks to an adapter goes through here, so that the Node lifetime
 * rule, the adapter report and the error wiring live in one place.
 */

/** What the rest of the code needs to know about the adapter in use. */
export interface AdapterReport {
  /** e.g. "nvidia / hopper / NVIDIA H100 80GB HBM3" or "mesa / llvmpipe (LLVM 19, 256 bits)" */
  name: string;
  vendor: string;
  architecture: string;
  description: string;
  /** true for CPU implementations (Mesa lavapipe/llvmpipe, SwiftShader, WARP) */
  software: boolean;
}

export interface GpuContext {
  device: GPUDevice;
  adapter: GPUAdapter;
  report: AdapterReport;
}

/** No usable WebGPU adapter or device (none installed, the `webgpu` package missing, a browser without WebGPU). */
export class GpuUnavailableError extends Error {}

/** acquireGpu({ rejectSoftware: true }) found only a software adapter (no device was created). */
export class SoftwareAdapterOnly extends Error {
  constructor(readonly report: AdapterReport) {
    super(`the only WebGPU adapter is a software one (${report.name})`);
  }
}

// Module-level on purpose, never a local: Dawn's event polling in Node holds only a raw pointer to
// the object returned by `create()`; if V8 collects it, the next poll reads freed memory (crashes
// and hangs at random). See ../shared/RUNTIME.md.
let nodeGpu: GPU | undefined;

async function gpuEntryPoint(): Promise<GPU> {
  if (typeof navigator !== 'undefined' && (navigator as Navigator).gpu) return (navigator as Navigator).gpu;
  if (typeof process === 'undefined' || !process.versions?.node) {
    throw new GpuUnavailableError('this browser exposes no navigator.gpu (WebGPU is off or unsupported)');
  }
  if (!nodeGpu) {
    const name = 'webgpu'; // a variable, so that browser bundlers leave the Node-only import alone
    let mod: { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
    try {
      mod = await import(/* @vite-ignore */ name);
    } catch (e) {
      throw new GpuUnavailableError(`the npm package 'webgpu' could not be loaded: ${(e as Error).message}`);
    }
    Object.assign(globalThis, mod.globals); // GPUBufferUsage, GPUMapMode, GPUShaderStage, …
    nodeGpu = mod.create([]);
  }
  return nodeGpu;
}

const SOFTWARE_HINTS = /llvmpipe|lavapipe|swiftshader|software|warp|microsoft basic render/i;

/** The adapter's name for logs and whether it is a software (CPU) implementation. */
export function describeAdapter(adapter: GPUAdapter): AdapterReport {
  const info = adapter.info ?? ({} as GPUAdapterInfo);
  const vendor = info.vendor ?? '';
  const architecture = info.architecture ?? '';
  const description = info.description ?? '';
  const device = (info as { device?: string }).device ?? '';
  const name = [vendor, architecture, description || device].filter((s) => s).join(' / ') || 'unknown adapter';
  const fallback = (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  const software = fallback || SOFTWARE_HINTS.test(`${vendor} ${architecture} ${description} ${device}`);
  return { name, vendor, architecture, description, software };
}

/**
 * Requests an adapter and a device with the adapter's own storage-buffer limits (large grids need
 * more than the WebGPU defaults). Throws GpuUnavailableError when there is no usable adapter.
 * `onLost` is called if the device is lost while in use (driver reset, tab hidden, …).
 */
export async function acquireGpu(options: { powerPreference?: GPUPowerPreference; onLost?: (why: string) => void; rejectSoftware?: boolean } = {}): Promise<GpuContext> {
  const gpu = await gpuEntryPoint();
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) throw new GpuUnavailableError('no WebGPU adapter was found (without a GPU, install a CPU Vulkan driver: scripts/setup-webgpu-cpu.sh)');
  if (options.rejectSoftware && describeAdapter(adapter).software) throw new SoftwareAdapterOnly(describeAdapter(adapter));
  const lim = adapter.limits;
  const device = await adapter.requestDevice({
    label: 'ionflux.device',
    requiredLimits: {
      maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
      maxBufferSize: lim.maxBufferSize,
      maxComputeWorkgroupStorageSize: lim.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: lim.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupsPerDimension: lim.maxComputeWorkgroupsPerDimension,
      maxStorageBuffersPerShaderStage: lim.maxStorageBuffersPerShaderStage,
    },
  });
  device.lost.then((info) => {
    if (info.reason !== 'destroyed') options.onLost?.(`${info.reason}: ${info.message}`);
  });
  device.addEventListener('uncapturederror', (ev) => {
    // Validation errors inside our own kernels are bugs: make them loud instead of silent garbage.
    console.error(`ionflux: WebGPU error: ${(ev as GPUUncapturedErrorEvent).error.message}`);
  });
  return { device, adapter, report: describeAdapter(adapter) };
}

/**
 * Runs `fn` inside a validation + out-of-memory error scope and throws the first error it raised.
 * Used around pipeline and buffer creation so that a bad grid size is reported as an error, not a
 * console line.
 */
export async function withErrorScope<T>(device: GPUDevice, what: string, fn: () => T): Promise<T> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  const result = fn();
  const validation = await device.popErrorScope();
  const oom = await device.popErrorScope();
  const err = validation ?? oom;
  if (err) throw new Error(`${what}: ${err.message}`);
  return result;
}

/** A byte range of a GPU buffer to read back (offset and size multiples of 4). */
export interface BufferRegion {
  buffer: GPUBuffer;
  offset?: number;
  size: number;
}

/**
 * Appends copies of `regions` into one temporary MAP_READ buffer to `enc`, submits it, and resolves
 * to the regions' bytes in order. The encoding and the submit happen before this returns, so work
 * submitted later (by any caller) cannot come between the commands and their readback.
 */
export function submitWithReadback(device: GPUDevice, enc: GPUCommandEncoder, regions: BufferRegion[]): Promise<ArrayBuffer[]> {
  const size = regions.reduce((a, r) => a + r.size, 0);
  const staging = device.createBuffer({ label: 'readback.staging', size: Math.max(4, size), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  let at = 0;
  for (const r of regions) {
    enc.copyBufferToBuffer(r.buffer, r.offset ?? 0, staging, at, r.size);
    at += r.size;
  }
  device.queue.submit([enc.finish()]);
  return staging.mapAsync(GPUMapMode.READ).then(() => {
    const all = staging.getMappedRange();
    let from = 0;
    const out = regions.map((r) => all.slice(from, (from += r.size)));
    staging.unmap();
    staging.destroy();
    return out;
  }, (e) => {
    staging.destroy();
    throw e;
  });
}

/** Copies `size` bytes of a GPU buffer back to the CPU through a temporary MAP_READ buffer. */
export async function readBuffer(device: GPUDevice, src: GPUBuffer, size: number, offset = 0): Promise<ArrayBuffer> {
  const [out] = await submitWithReadback(device, device.createCommandEncoder({ label: 'readBuffer' }), [{ buffer: src, offset, size }]);
  return out;
}
