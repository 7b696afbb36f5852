/**
 * A particle outline from a binary mask (nonzero = particle), e.g. a segmented frame of a real movie:
 * the largest 4-connected component is traced along pixel edges (counter-clockwise) and the staircase
 * is smoothed with a short moving average, so that the boundary normals the grid needs are those of
 * the particle rather than of the camera's pixels. No files here: `particle.shape = "mask"` reads its
 * image in src/model/maskOutline.ts (Node), the demo page decodes a dropped image or takes an observed
 * particle's segmented mask, and both come here.
 */
import { ConfigError } from '../errors';
import { polygonOutline, type Outline, type Vec2 } from './geometry';

/** Keeps the largest 4-connected component of a binary mask; returns it and the number of components. */
export function largestComponent(mask: Uint8Array, width: number, height: number): { mask: Uint8Array; components: number; pixels: number } {
  const label = new Int32Array(mask.length);
  let components = 0, bestLabel = 0, bestSize = 0;
  const stack: number[] = [];
  for (let s = 0; s < mask.length; s++) {
    if (!mask[s] || label[s]) continue;
    components++;
    let size = 0;
    label[s] = components;
    stack.push(s);
    while (stack.length) {
      const i = stack.pop() as number;
      size++;
      const c = i % width;
      const nbs = [c > 0 ? i - 1 : -1, c < width - 1 ? i + 1 : -1, i >= width ? i - width : -1, i < (height - 1) * width ? i + width : -1];
      for (const j of nbs) if (j >= 0 && mask[j] && !label[j]) { label[j] = components; stack.push(j); }
    }
    if (size > bestSize) { bestSize = size; bestLabel = components; }
  }
  return { mask: Uint8Array.from(label, (l) => (l === bestLabel && l > 0 ? 1 : 0)), components, pixels: bestSize };
}

/**
 * Counter-clockwise outer boundary of a 4-connected binary component along pixel edges, in pixel
 * units with x = col, y = −row (y up). Corners where the component touches itself diagonally are
 * passed by turning left, which keeps the outer loop.
 */
export function traceBoundary(mask: Uint8Array, width: number, height: number): Vec2[] {
  const at = (r: number, c: number) => r >= 0 && r < height && c >= 0 && c < width && mask[r * width + c] === 1;
  const key = (x: number, y: number) => `${x},${y}`;
  const out = new Map<string, Vec2[]>();
  const add = (a: Vec2, b: Vec2) => {
    const k = key(a[0], a[1]);
    const list = out.get(k) ?? [];
    list.push(b);
    out.set(k, list);
  };
  let start: Vec2 | null = null;
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      if (!at(r, c)) continue;
      if (!at(r + 1, c)) add([c, -r - 1], [c + 1, -r - 1]);
      if (!at(r, c + 1)) add([c + 1, -r - 1], [c + 1, -r]);
      if (!at(r - 1, c)) add([c + 1, -r], [c, -r]);
      if (!at(r, c - 1)) add([c, -r], [c, -r - 1]);
      // the bottom-most, then left-most boundary vertex lies on the outer loop
      if (!at(r + 1, c) && (!start || -r - 1 < start[1] || (-r - 1 === start[1] && c < start[0]))) start = [c, -r - 1];
    }
  }
  if (!start) return [];
  const loop: Vec2[] = [];
  let cur: Vec2 = start;
  let dir: Vec2 = [1, 0];
  for (let guard = 0; guard < 4 * mask.length + 8; guard++) {
    loop.push(cur);
    const nexts = out.get(key(cur[0], cur[1])) ?? [];
    if (!nexts.length) break;
    // prefer the left-most turn relative to the incoming direction
    let best = 0, bestScore = -Infinity;
    nexts.forEach((n, i) => {
      const d: Vec2 = [n[0] - cur[0], n[1] - cur[1]];
      const score = dir[0] * d[1] - dir[1] * d[0] + 0.5 * (dir[0] * d[0] + dir[1] * d[1]);
      if (score > bestScore) { bestScore = score; best = i; }
    });
    const next = nexts.splice(best, 1)[0];
    dir = [next[0] - cur[0], next[1] - cur[1]];
    cur = next;
    if (cur[0] === start[0] && cur[1] === start[1]) break;
  }
  return loop;
}

/** Circular moving average over ±half vertices: turns a pixel staircase into a smooth outline. */
export function smoothLoop(loop: Vec2[], half = 2): Vec2[] {
  const n = loop.length;
  return loop.map((_, i) => {
    let x = 0, y = 0;
    for (let k = -half; k <= half; k++) {
      const p = loop[(i + k + n) % n];
      x += p[0]; y += p[1];
    }
    return [x / (2 * half + 1), y / (2 * half + 1)] as Vec2;
  });
}

/**
 * Outline of the particle in a binary mask of `width`×`height` pixels of `pixel_um` µm, centred on its
 * centroid, in µm. Other pieces are left out with a warning; holes inside the particle are filled
 * (only the outer boundary is traced). `what` names the mask in messages (e.g. "particle.file = 'm.png'").
 * Throws when the mask marks no particle, or one too small to simulate.
 */
export function outlineFromMask(mask: ArrayLike<number>, width: number, height: number, pixel_um: number, what: string, warn: (msg: string) => void = () => {}): Outline {
  const binary = Uint8Array.from(mask, (v) => (v !== 0 && !Number.isNaN(v) ? 1 : 0));
  const comp = largestComponent(binary, width, height);
  if (comp.pixels === 0) throw new ConfigError(`${what} has no nonzero pixels: the mask must mark the particle (nonzero = particle)`);
  if (comp.pixels < 12) throw new ConfigError(`${what} marks a particle of only ${comp.pixels} pixels: too small to simulate`);
  const marked = binary.reduce((acc, v) => acc + v, 0);
  if (comp.components > 1) warn(`${what} has ${comp.components} separate pieces: the largest (${comp.pixels} pixels) is simulated, ${marked - comp.pixels} pixels elsewhere are left out`);
  const loop = smoothLoop(traceBoundary(comp.mask, width, height)).map(([x, y]) => [x * pixel_um, y * pixel_um] as Vec2);
  const o = polygonOutline(loop);
  const [cx, cy] = o.centroid;
  return polygonOutline(o.vertices.map(([x, y]) => [x - cx, y - cy] as Vec2));
}
