/**
 * The particle's shape in the page (SPEC §3's names): a disk, an ellipse (full axes in µm and an
 * angle), a polygon drawn by clicking on the canvas, or a mask image (PNG) dropped on the page or
 * chosen with the file picker. A mask — and an observed particle's segmented mask ("simulate this
 * particle", demo/observed/panel.ts) — is traced into its outline by src/model/maskTrace.ts, the
 * code `particle.shape = "mask"` runs in the CLI, and becomes a `polygon` of those vertices: the
 * outline the simulation uses from a mask anyway, and one that the URL and the exported config can
 * carry without a file (`ionflux simulate --config` then needs nothing beside the JSON).
 *
 * Drawing: click to add vertices; click the first vertex (or double-click) to close; Esc cancels.
 * A polygon that crosses itself (or encloses no area) is refused with a message and the particle
 * that runs is kept.
 */
import type GUI from 'lil-gui';
import { outlineFromMask } from '../../src/model/maskTrace';
import { centredVertices, polygonProblem, SHAPES, type DemoState } from '../state';
import { toPx, toUm, VIEW_H, VIEW_W, type Layout } from '../render/layout';

export interface ShapeHost {
  /** the state changed (a shape key): refresh the controls and rebuild */
  apply(key: keyof DemoState): void;
  message(text: string): void;
  layout(): Layout | null;
  /** the pan / zoom of the field (demo/render/view.ts): view px ↔ layout px */
  view: { toScreen(p: readonly [number, number]): [number, number]; toLayout(p: readonly [number, number]): [number, number] };
}

/** px (view coordinates) within which a click on the first vertex closes the polygon */
const CLOSE_PX = 10;
/** the default pixel size of a mask image, µm (SPEC §2's default camera pixel) */
const MASK_PIXEL_UM = 0.05;

export class ShapeTools {
  /** vertices being drawn, µm (null when not drawing) */
  drawing: [number, number][] | null = null;
  /** the pointer while drawing, view px */
  private hover: [number, number] | null = null;
  private readonly layer: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private readonly fileInput: HTMLInputElement;
  readonly settings = { maskPixel_um: MASK_PIXEL_UM };
  private readonly shapeCtl: ReturnType<GUI['add']>;
  private readonly ellipseCtls: ReturnType<GUI['add']>[];

  constructor(gui: GUI, private readonly view: HTMLElement, private readonly state: DemoState, private readonly host: ShapeHost) {
    this.layer = document.createElement('canvas');
    this.layer.id = 'shape-layer';
    this.layer.width = VIEW_W;
    this.layer.height = VIEW_H;
    this.layer.style.pointerEvents = 'none';
    view.appendChild(this.layer);
    this.ctx = this.layer.getContext('2d') as CanvasRenderingContext2D;
    this.fileInput = document.createElement('input');
    this.fileInput.type = 'file';
    this.fileInput.accept = 'image/png,image/*';
    this.fileInput.id = 'mask-file';
    this.fileInput.hidden = true;
    this.fileInput.addEventListener('change', () => {
      const f = this.fileInput.files?.[0];
      if (f) void this.loadMaskFile(f);
      this.fileInput.value = '';
    });
    document.body.appendChild(this.fileInput);

    const s = state;
    const folder = gui.addFolder('particle shape (a new grid: restarts)');
    this.shapeCtl = folder.add(s, 'shape', SHAPES).name('shape').onChange((v: string) => {
      if (v === 'polygon' && s.vertices_um.length < 3) { this.startDrawing(); return; }
      this.showControls();
      host.apply('shape');
    });
    this.ellipseCtls = [
      folder.add(s, 'ellipseA_um', 0.2, 10, 0.1).name('ellipse axis a (µm)').onFinishChange(() => host.apply('shape')),
      folder.add(s, 'ellipseB_um', 0.2, 10, 0.1).name('ellipse axis b (µm)').onFinishChange(() => host.apply('shape')),
      folder.add(s, 'ellipseAngleDeg', -180, 180, 1).name('ellipse angle (° ccw)').onFinishChange(() => host.apply('shape')),
    ];
    folder.add({ draw: () => this.startDrawing() }, 'draw').name('✎ draw a polygon on the canvas');
    folder.add(this.settings, 'maskPixel_um', 0.001, 1, 0.001).name('mask image pixel (µm)');
    folder.add({ mask: () => this.fileInput.click() }, 'mask').name('load a mask image (PNG)…');
    this.showControls();

    // drawing clicks are taken before the rim brush sees them (capture phase on the same element)
    view.addEventListener('pointerdown', (ev) => this.onPointerDown(ev), { capture: true });
    view.addEventListener('pointermove', (ev) => { if (this.drawing) { this.hover = this.pos(ev); this.draw(); } }, { capture: true });
    view.addEventListener('dblclick', (ev) => { if (this.drawing) { ev.preventDefault(); this.finish(true); } });
    addEventListener('keydown', (ev) => { if (ev.key === 'Escape' && this.drawing) this.cancel(); });
  }

  /** shows the ellipse's controls only for an ellipse */
  showControls(): void {
    for (const c of this.ellipseCtls) c.show(this.state.shape === 'ellipse');
  }

  startDrawing(): void {
    if (!this.host.layout()) { this.host.message('the polygon tool needs the view to be running: wait for the particle to appear'); return; }
    this.drawing = [];
    this.view.classList.add('drawing');
    this.draw();
  }

  cancel(): void {
    this.drawing = null;
    this.hover = null;
    this.view.classList.remove('drawing');
    this.state.shape = this.state.shape === 'polygon' && this.state.vertices_um.length < 3 ? 'disk' : this.state.shape;
    this.shapeCtl.updateDisplay();
    this.draw();
  }

  private pos(ev: PointerEvent | MouseEvent): [number, number] {
    const r = this.view.getBoundingClientRect();
    return [((ev.clientX - r.left) * VIEW_W) / r.width, ((ev.clientY - r.top) * VIEW_H) / r.height];
  }

  private onPointerDown(ev: PointerEvent): void {
    if (!this.drawing) return;
    ev.stopImmediatePropagation();
    ev.preventDefault();
    const layout = this.host.layout();
    if (!layout) return;
    const p = this.pos(ev);
    const v = this.drawing;
    if (v.length >= 3) {
      const first = this.screen(layout, v[0]);
      if (Math.hypot(p[0] - first[0], p[1] - first[1]) <= CLOSE_PX) { this.finish(false); return; }
    }
    v.push(toUm(layout, this.host.view.toLayout(p)));
    this.draw();
  }

  /**
   * Closes the polygon being drawn. A double-click also gave two clicks at its place: vertices
   * closer than a few pixels to the one before are dropped first.
   */
  private finish(fromDoubleClick: boolean): void {
    const layout = this.host.layout();
    let v = this.drawing ?? [];
    if (fromDoubleClick && layout) {
      v = v.filter((p, i) => {
        if (i === 0) return true;
        const a = this.screen(layout, p), b = this.screen(layout, v[i - 1]);
        return Math.hypot(a[0] - b[0], a[1] - b[1]) > 3;
      });
    }
    this.drawing = null;
    this.hover = null;
    this.view.classList.remove('drawing');
    this.draw();
    this.setPolygon(v, 'drawn on the canvas');
  }

  /**
   * Makes `vertices` (µm, any orientation) the particle — centred on their centroid and rounded
   * (centredVertices) when `centre` — or refuses them with a message naming what is wrong (the
   * particle that runs is kept). Returns whether it was taken.
   */
  setPolygon(vertices: [number, number][], source: string, centre = true): boolean {
    const problem = polygonProblem(vertices);
    if (problem) {
      this.host.message(`the polygon (${source}) is refused: ${problem}. The particle that runs is kept.`);
      if (this.state.shape === 'polygon' && this.state.vertices_um.length < 3) this.state.shape = 'disk';
      this.shapeCtl.updateDisplay();
      return false;
    }
    this.state.shape = 'polygon';
    this.state.vertices_um = centre ? centredVertices(vertices) : vertices.map((v) => [v[0], v[1]]);
    this.state.shapeSource = source;
    this.showControls();
    this.host.apply('shape');
    return true;
  }

  /**
   * Makes the particle of a binary mask (nonzero = particle, `width`×`height` pixels of `pixel_um`)
   * the simulated shape: traced by src/model/maskTrace.ts, then a polygon. `what` names the mask
   * in messages. Returns whether it was taken.
   */
  setMask(mask: ArrayLike<number>, width: number, height: number, pixel_um: number, what: string): boolean {
    let vertices: [number, number][];
    try {
      vertices = outlineFromMask(mask, width, height, pixel_um, what, (w) => this.host.message(w)).vertices as [number, number][];
    } catch (e) {
      this.host.message(`${(e as Error).message}. The particle that runs is kept.`);
      return false;
    }
    // as traced (already centred): rounding would move vertices that lie on the grid's cell centres
    return this.setPolygon(vertices, what, false);
  }

  /** A mask image file (PNG, or any image the browser decodes): nonzero pixels = particle. */
  async loadMaskFile(file: File): Promise<boolean> {
    const what = `mask image '${file.name}'`;
    const px = this.settings.maskPixel_um;
    if (!(px > 0)) { this.host.message(`mask image pixel = ${px} µm is not allowed: give a positive pixel size`); return false; }
    let bitmap: ImageBitmap;
    try {
      bitmap = await createImageBitmap(file);
    } catch (e) {
      this.host.message(`${what} cannot be decoded as an image (${(e as Error).message || 'not an image'}): give a PNG with the particle nonzero on a zero background`);
      return false;
    }
    const canvas = document.createElement('canvas');
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    const c2d = canvas.getContext('2d', { willReadFrequently: true }) as CanvasRenderingContext2D;
    c2d.drawImage(bitmap, 0, 0);
    bitmap.close();
    const rgba = c2d.getImageData(0, 0, canvas.width, canvas.height).data;
    const mask = new Uint8Array(canvas.width * canvas.height);
    for (let i = 0; i < mask.length; i++) mask[i] = rgba[4 * i] | rgba[4 * i + 1] | rgba[4 * i + 2] ? 1 : 0;
    return this.setMask(mask, canvas.width, canvas.height, px, `${what} (${canvas.width}×${canvas.height} px of ${px} µm)`);
  }

  /** view px of a physical point (µm), through the pan / zoom */
  private screen(layout: Layout, p: [number, number]): [number, number] {
    return this.host.view.toScreen(toPx(layout, p));
  }

  /** the polygon being drawn, on the layer above the field */
  private draw(): void {
    const ctx = this.ctx;
    ctx.clearRect(0, 0, VIEW_W, VIEW_H);
    const layout = this.host.layout();
    if (!this.drawing || !layout) return;
    ctx.fillStyle = 'rgba(255,255,255,0.85)';
    ctx.fillRect(0, VIEW_H - 40, 480, 40);
    ctx.fillStyle = '#000';
    ctx.font = '13px system-ui, sans-serif';
    ctx.fillText('Drawing a polygon: click to add vertices; click the first vertex', 8, VIEW_H - 24);
    ctx.fillText('or double-click to close it; Esc cancels.', 8, VIEW_H - 8);
    const pts = this.drawing.map((p) => this.screen(layout, p));
    ctx.strokeStyle = '#ff8c00';
    ctx.lineWidth = 2;
    ctx.beginPath();
    pts.forEach((p, i) => (i ? ctx.lineTo(p[0], p[1]) : ctx.moveTo(p[0], p[1])));
    if (this.hover && pts.length) ctx.lineTo(this.hover[0], this.hover[1]);
    ctx.stroke();
    pts.forEach((p, i) => {
      ctx.beginPath();
      ctx.arc(p[0], p[1], i === 0 ? CLOSE_PX / 2 + 2 : 3, 0, 2 * Math.PI);
      ctx.fillStyle = i === 0 ? '#ff8c00' : '#000';
      ctx.fill();
    });
  }
}
