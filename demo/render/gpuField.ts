/**
 * The WebGPU view: draws the solver's state buffer straight into the canvas each frame (no readback
 * of the field), through GpuSolver.stateBinding(). The ΔI/I0 view runs the library's own forward
 * model kernel (src/kernels/forwardModel.ts) on that buffer first and draws its camera image.
 */
import source from './field.wgsl?raw';
import type { Camera, GpuContext, GpuSolver } from '../../src/browser';
import { ForwardModelKernel } from '../../src/kernels/forwardModel';
import { FIELD_PX, lut, VIEW_H, VIEW_W, type ColourScale, type Layout } from './layout';
import type { ViewTransform } from './view';

/** the View struct of field.wgsl: 12 scalars, then mat3x3f (3 columns of 16 bytes) */
const VIEW_BYTES = 96;

export class GpuFieldView {
  private readonly device: GPUDevice;
  private readonly context: GPUCanvasContext;
  private readonly pipeline: GPURenderPipeline;
  private readonly uniforms: GPUBuffer;
  private readonly lutBuffer: GPUBuffer;
  private readonly staging = new ArrayBuffer(VIEW_BYTES);
  private groups = new Map<GPUBuffer, GPUBindGroup>();
  /** one forward-model kernel per state buffer (the solver ping-pongs between two) */
  private forward = new Map<GPUBuffer, ForwardModelKernel>();
  private lutKey = '';

  /**
   * `canvas` is sized here: the full 640×480 layout on a GPU, half of it (shown scaled up, cells
   * kept sharp) on a software adapter, where every fragment is CPU time taken from the simulation.
   */
  constructor(private readonly gpu: GpuContext, readonly canvas: HTMLCanvasElement) {
    const device = (this.device = gpu.device);
    const half = gpu.report.software;
    canvas.width = half ? VIEW_W / 2 : VIEW_W;
    canvas.height = half ? VIEW_H / 2 : VIEW_H;
    canvas.style.imageRendering = 'pixelated';
    const ctx = canvas.getContext('webgpu');
    if (!ctx) throw new Error('the canvas gave no WebGPU context');
    this.context = ctx;
    const format = navigator.gpu.getPreferredCanvasFormat();
    ctx.configure({ device, format, alphaMode: 'opaque' });
    const module = device.createShaderModule({ label: 'DemoField.module', code: source });
    this.pipeline = device.createRenderPipeline({
      label: 'DemoField.pipeline',
      layout: 'auto',
      vertex: { module, entryPoint: 'vs' },
      fragment: { module, entryPoint: 'fs', targets: [{ format }] },
      primitive: { topology: 'triangle-list' },
    });
    this.uniforms = device.createBuffer({ label: 'DemoField.uniforms', size: VIEW_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.lutBuffer = device.createBuffer({ label: 'DemoField.lut', size: 256 * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  }

  /** Forgets bind groups and kernels made for an old solver (call when the solver is replaced). */
  reset(): void {
    for (const k of this.forward.values()) k.destroy();
    this.forward.clear();
    this.groups.clear();
  }

  private group(buffer: GPUBuffer): GPUBindGroup {
    let g = this.groups.get(buffer);
    if (!g) {
      g = this.device.createBindGroup({
        label: 'DemoField.bindGroup',
        layout: this.pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: this.uniforms } },
          { binding: 1, resource: { buffer } },
          { binding: 2, resource: { buffer: this.lutBuffer } },
        ],
      });
      this.groups.set(buffer, g);
    }
    return g;
  }

  /** Records and submits one frame: θ from the state buffer, or ΔI/I0 through the forward model. */
  draw(solver: GpuSolver, layout: Layout, scale: ColourScale, theta0: number, mode: 'theta' | 'diff', camera: Camera, threshold: number, view: ViewTransform): void {
    const key = `${scale.vmin},${scale.vmax},${scale.center},${scale.reversed}`;
    if (key !== this.lutKey) {
      this.device.queue.writeBuffer(this.lutBuffer, 0, lut(scale));
      this.lutKey = key;
    }
    const state = solver.stateBinding();
    const enc = this.device.createCommandEncoder({ label: 'DemoField.frame' });
    let fieldBuffer = state.buffer;
    const f32 = new Float32Array(this.staging), u32 = new Uint32Array(this.staging);
    if (mode === 'diff') {
      let k = this.forward.get(state.buffer);
      if (!k) {
        k = new ForwardModelKernel(this.gpu, camera, [state.buffer, state.buffer]);
        this.forward.set(state.buffer, k);
      }
      const pass = enc.beginComputePass({ label: 'DemoField.forwardModel' });
      k.encode(pass, 0, threshold);
      pass.end();
      fieldBuffer = k.diff;
      const camPx = camera.pixel_um * layout.pxPerUm; // px per camera pixel
      // the camera image is centred on the grid (createCamera)
      f32.set([FIELD_PX / 2 - (camera.width * camPx) / 2, FIELD_PX / 2 - (camera.height * camPx) / 2, camPx], 0);
      u32[3] = 1;
      u32.set([camera.width, camera.height], 4);
    } else {
      f32.set([layout.gridOrigin_px[0], layout.gridOrigin_px[1], layout.cellPx], 0);
      u32[3] = 0;
      u32.set([layout.nx, layout.ny], 4);
    }
    f32.set([theta0, scale.vmin, scale.vmax, FIELD_PX, VIEW_W / this.canvas.width, 0], 6);
    f32.set(view.inverseColumns(), 12);
    this.device.queue.writeBuffer(this.uniforms, 0, this.staging);
    const rp = enc.beginRenderPass({
      label: 'DemoField.render',
      colorAttachments: [{ view: this.context.getCurrentTexture().createView(), loadOp: 'clear', storeOp: 'store', clearValue: { r: 1, g: 1, b: 1, a: 1 } }],
    });
    rp.setPipeline(this.pipeline);
    rp.setBindGroup(0, this.group(fieldBuffer));
    rp.draw(3);
    rp.end();
    this.device.queue.submit([enc.finish()]);
  }

  destroy(): void {
    this.reset();
    this.uniforms.destroy();
    this.lutBuffer.destroy();
  }
}
