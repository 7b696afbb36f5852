/**
 * The pan / zoom of the field: one gl-matrix mat3 from layout px (render/layout.ts: the 640×480
 * layout the field, the η ring and the markers are placed in) to screen px of the view. Everything
 * on the particle goes through it — the WebGPU render pass and the regl view (its inverse, per
 * fragment), the overlay's ring, markers and brush (forwards), and the brush's hit-testing (its
 * inverse, from the pointer) — so that they stay on top of each other at any zoom. The side panel
 * (colour bar, text, benchmark) and the scale bar stay fixed on screen; the bar's length follows
 * the zoom. Only uniform scaling and translation are made here, so zoom() is the scale factor.
 */
import { mat3, vec2 } from 'gl-matrix';
import { FIELD_PX, VIEW_H } from './layout';

export const ZOOM_MIN = 0.5;
export const ZOOM_MAX = 40;

export class ViewTransform {
  /** layout px → screen px (column-major, as WGSL and GLSL take it) */
  readonly matrix = mat3.create();
  /** screen px → layout px */
  readonly inverse = mat3.create();
  /** bumped on every change (the page redraws when it differs from what it drew) */
  version = 0;
  private readonly tmp = mat3.create();
  private readonly v = vec2.create();

  get zoom(): number {
    return this.matrix[0];
  }

  get identity(): boolean {
    return mat3.exactEquals(this.matrix, mat3.create());
  }

  /** Zooms by `factor` about the screen point `at` (it stays under the cursor); clamped to [ZOOM_MIN, ZOOM_MAX]. */
  zoomAt(at: [number, number], factor: number): void {
    const f = Math.min(ZOOM_MAX, Math.max(ZOOM_MIN, this.zoom * factor)) / this.zoom;
    if (!Number.isFinite(f) || f === 1) return;
    // M ← T(at) · S(f) · T(−at) · M
    mat3.fromTranslation(this.tmp, [-at[0], -at[1]]);
    mat3.multiply(this.matrix, this.tmp, this.matrix);
    mat3.fromScaling(this.tmp, [f, f]);
    mat3.multiply(this.matrix, this.tmp, this.matrix);
    mat3.fromTranslation(this.tmp, at);
    mat3.multiply(this.matrix, this.tmp, this.matrix);
    this.changed();
  }

  /** Moves the view by (dx, dy) screen px. */
  pan(dx: number, dy: number): void {
    mat3.fromTranslation(this.tmp, [dx, dy]);
    mat3.multiply(this.matrix, this.tmp, this.matrix);
    this.changed();
  }

  reset(): void {
    mat3.identity(this.matrix);
    this.changed();
  }

  /** screen px of a layout point */
  toScreen(p: readonly [number, number]): [number, number] {
    vec2.transformMat3(this.v, p as [number, number], this.matrix);
    return [this.v[0], this.v[1]];
  }

  /** layout px under a screen point */
  toLayout(p: readonly [number, number]): [number, number] {
    vec2.transformMat3(this.v, p as [number, number], this.inverse);
    return [this.v[0], this.v[1]];
  }

  /** the inverse as three vec4 columns (WGSL mat3x3f in a uniform buffer: 16-byte column stride) */
  inverseColumns(): Float32Array {
    const m = this.inverse;
    return Float32Array.of(m[0], m[1], m[2], 0, m[3], m[4], m[5], 0, m[6], m[7], m[8], 0);
  }

  private changed(): void {
    mat3.invert(this.inverse, this.matrix);
    this.version++;
  }
}

/** true where the screen point lies on the field (left of the side panel) */
export function onField(p: readonly [number, number]): boolean {
  return p[0] >= 0 && p[0] < FIELD_PX && p[1] >= 0 && p[1] < VIEW_H;
}

/** A scale bar of a round length (… 0.1, 0.2, 0.5, 1, 2 … µm) about 60–150 px long at `pxPerUm`. */
export function scaleBarUm(pxPerUm: number): number {
  const target = 100 / pxPerUm;
  const p = 10 ** Math.floor(Math.log10(target));
  for (const k of [1, 2, 5, 10]) if (k * p * pxPerUm >= 60) return Number((k * p).toPrecision(3));
  return 10 * p;
}
