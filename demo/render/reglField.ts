/**
 * The fallback view: the θ field from the CPU worker drawn with regl (WebGL) as a float texture
 * through the same LUT as the WebGPU view; where WebGL is missing too, a 2D canvas (putImageData).
 */
import createREGL from 'regl';
import { lut, VIEW_H, VIEW_W, FIELD_PX, type ColourScale, type Layout } from './layout';
import type { ViewTransform } from './view';

export class ReglFieldView {
  readonly kind: 'regl (WebGL)' | '2D canvas';
  private regl: createREGL.Regl | null = null;
  private fieldTex: createREGL.Texture2D | null = null;
  private lutTex: createREGL.Texture2D | null = null;
  private drawCmd: createREGL.DrawCommand | null = null;
  private ctx2d: CanvasRenderingContext2D | null = null;
  private lutKey = '';
  private lutData = new Uint32Array(256);

  constructor(readonly canvas: HTMLCanvasElement) {
    try {
      this.regl = createREGL({ canvas, attributes: { antialias: false, preserveDrawingBuffer: true }, extensions: [] });
    } catch {
      this.regl = null;
    }
    if (this.regl) {
      this.kind = 'regl (WebGL)';
      const r = this.regl;
      this.fieldTex = r.texture({ width: 1, height: 1, data: new Uint8Array(4) });
      this.lutTex = r.texture({ width: 256, height: 1, data: new Uint8Array(1024) });
      this.drawCmd = r({
        // θ arrives as 8-bit: (θ − vmin)/(vmax − vmin)·254, 255 = outside
        frag: `precision mediump float;
          uniform sampler2D field, lut; uniform vec2 origin, size; uniform vec2 view; uniform mat3 inv;
          void main() {
            vec2 px = vec2(gl_FragCoord.x, view.y - gl_FragCoord.y);
            if (px.x >= ${FIELD_PX.toFixed(1)}) { gl_FragColor = vec4(1.0); return; }
            vec2 uv = ((inv * vec3(px, 1.0)).xy - origin) / size; // un-zoomed (render/view.ts)
            if (uv.x < 0.0 || uv.y < 0.0 || uv.x >= 1.0 || uv.y >= 1.0) { gl_FragColor = vec4(224.0/255.0, 224.0/255.0, 224.0/255.0, 1.0); return; }
            float v = texture2D(field, uv).r * 255.0;
            if (v > 254.5) { gl_FragColor = vec4(224.0/255.0, 224.0/255.0, 224.0/255.0, 1.0); return; }
            gl_FragColor = texture2D(lut, vec2((v / 254.0 * 255.0 + 0.5) / 256.0, 0.5));
          }`,
        vert: `precision mediump float; attribute vec2 p; void main() { gl_Position = vec4(p, 0.0, 1.0); }`,
        attributes: { p: [[-1, -1], [3, -1], [-1, 3]] },
        uniforms: {
          field: () => this.fieldTex,
          lut: () => this.lutTex,
          origin: r.prop<{ origin: number[] }, 'origin'>('origin'),
          size: r.prop<{ size: number[] }, 'size'>('size'),
          inv: r.prop<{ inv: number[] }, 'inv'>('inv'),
          view: [VIEW_W, VIEW_H],
        },
        count: 3,
        // one full-screen triangle per frame: with the depth test on (regl's default) and the
        // depth buffer kept between frames, every draw after the first failed it
        depth: { enable: false },
      });
    } else {
      this.kind = '2D canvas';
      this.ctx2d = canvas.getContext('2d');
    }
  }

  draw(field: Float32Array, layout: Layout, scale: ColourScale, view: ViewTransform): void {
    const { nx, ny } = layout;
    const key = `${scale.vmin},${scale.vmax},${scale.center},${scale.reversed}`;
    if (key !== this.lutKey) {
      this.lutData = lut(scale);
      this.lutTex?.({ width: 256, height: 1, data: new Uint8Array(this.lutData.buffer) });
      this.lutKey = key;
    }
    const bytes = new Uint8Array(nx * ny);
    for (let i = 0; i < bytes.length; i++) {
      const v = field[i];
      bytes[i] = v !== v ? 255 : Math.round(Math.min(1, Math.max(0, (v - scale.vmin) / (scale.vmax - scale.vmin))) * 254);
    }
    if (this.regl && this.drawCmd && this.fieldTex) {
      this.fieldTex({ width: nx, height: ny, data: bytes, format: 'luminance', min: 'nearest', mag: 'nearest', alignment: 1 });
      this.regl.poll();
      this.regl.clear({ color: [1, 1, 1, 1], depth: 1 });
      this.drawCmd({ origin: layout.gridOrigin_px, size: [nx * layout.cellPx, ny * layout.cellPx], inv: Array.from(view.inverse) });
      return;
    }
    const ctx = this.ctx2d;
    if (!ctx) return;
    const img = ctx.createImageData(VIEW_W, VIEW_H);
    const px = new Uint32Array(img.data.buffer);
    px.fill(0xffffffff);
    for (let y = 0; y < VIEW_H; y++) {
      for (let x = 0; x < FIELD_PX; x++) {
        const [lx, ly] = view.toLayout([x + 0.5, y + 0.5]);
        const c = Math.floor((lx - layout.gridOrigin_px[0]) / layout.cellPx), r = Math.floor((ly - layout.gridOrigin_px[1]) / layout.cellPx);
        const b = c >= 0 && r >= 0 && c < nx && r < ny ? bytes[r * nx + c] : 255;
        px[y * VIEW_W + x] = b === 255 ? 0xffe0e0e0 : this.lutData[Math.round((b / 254) * 255)];
      }
    }
    ctx.putImageData(img, 0, 0);
  }
}
