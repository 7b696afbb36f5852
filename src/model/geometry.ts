/**
 * Particle outlines in physical coordinates (µm; x to the right, y up), as closed polygons. Smooth
 * shapes (disk, ellipse) are finely sampled and keep their analytic outward normal, which the grid's
 * wall-face weights |n·e_f| need (SPEC §1).
 */

export type Vec2 = [number, number];

export interface Outline {
  /** vertices counter-clockwise, not repeated at the end */
  vertices: Vec2[];
  /** true outward unit normal at a boundary point; edge normals when absent */
  normalAt?: (p: Vec2) => Vec2;
  /** centre of mass of the enclosed area, µm */
  centroid: Vec2;
  /** enclosed area, µm² */
  area_um2: number;
}

export function polygonArea(v: Vec2[]): number {
  let a = 0;
  for (let i = 0; i < v.length; i++) {
    const va = v[i], vb = v[(i + 1) % v.length];
    const x0 = va[0], y0 = va[1], x1 = vb[0], y1 = vb[1];
    a += x0 * y1 - x1 * y0;
  }
  return a / 2;
}

export function polygonCentroid(v: Vec2[]): Vec2 {
  let cx = 0, cy = 0;
  const a = polygonArea(v);
  for (let i = 0; i < v.length; i++) {
    const va = v[i], vb = v[(i + 1) % v.length];
    const x0 = va[0], y0 = va[1], x1 = vb[0], y1 = vb[1];
    const c = x0 * y1 - x1 * y0;
    cx += (x0 + x1) * c;
    cy += (y0 + y1) * c;
  }
  return [cx / (6 * a), cy / (6 * a)];
}

/** Index pair of two non-adjacent edges that cross, or null for a simple polygon (O(V²), for user polygons). */
export function selfIntersection(v: Vec2[]): [number, number] | null {
  const n = v.length;
  const cross = (a: Vec2, b: Vec2, c: Vec2) => (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
  for (let i = 0; i < n; i++) {
    const a = v[i], b = v[(i + 1) % n];
    for (let j = i + 2; j < n; j++) {
      if (i === 0 && j === n - 1) continue; // adjacent through the closing edge
      const c = v[j], d = v[(j + 1) % n];
      const d1 = cross(a, b, c), d2 = cross(a, b, d), d3 = cross(c, d, a), d4 = cross(c, d, b);
      if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))) return [i, j];
    }
  }
  return null;
}

/** Builds an outline from vertices in any orientation (made counter-clockwise). */
export function polygonOutline(vertices: Vec2[], normalAt?: (p: Vec2) => Vec2): Outline {
  const v = polygonArea(vertices) < 0 ? [...vertices].reverse() : vertices;
  return { vertices: v, normalAt, centroid: polygonCentroid(v), area_um2: Math.abs(polygonArea(v)) };
}

/** Disk of diameter d centred at the origin. */
export function diskOutline(diameter_um: number, samples = 2048): Outline {
  const r = diameter_um / 2;
  const v: Vec2[] = [];
  for (let i = 0; i < samples; i++) {
    const a = (2 * Math.PI * i) / samples;
    v.push([r * Math.cos(a), r * Math.sin(a)]);
  }
  const o = polygonOutline(v, ([x, y]) => {
    const n = Math.hypot(x, y) || 1;
    return [x / n, y / n];
  });
  // exact values rather than those of the sampled polygon
  return { ...o, centroid: [0, 0], area_um2: Math.PI * r * r };
}

/** Ellipse with full axis lengths [a, b] (like diameter_um), the a axis at angleDeg from +x. */
export function ellipseOutline(axes_um: [number, number], angleDeg = 0, samples = 2048): Outline {
  const [ra, rb] = [axes_um[0] / 2, axes_um[1] / 2];
  const c = Math.cos((angleDeg * Math.PI) / 180), s = Math.sin((angleDeg * Math.PI) / 180);
  const v: Vec2[] = [];
  for (let i = 0; i < samples; i++) {
    const t = (2 * Math.PI * i) / samples;
    const x = ra * Math.cos(t), y = rb * Math.sin(t);
    v.push([c * x - s * y, s * x + c * y]);
  }
  const o = polygonOutline(v, ([px, py]) => {
    // gradient of (x'/a)² + (y'/b)² in the rotated frame, rotated back
    const xr = c * px + s * py, yr = -s * px + c * py;
    const gx = xr / (ra * ra), gy = yr / (rb * rb);
    const nx = c * gx - s * gy, ny = s * gx + c * gy;
    const n = Math.hypot(nx, ny) || 1;
    return [nx / n, ny / n];
  });
  return { ...o, centroid: [0, 0], area_um2: Math.PI * ra * rb };
}

/** Even-odd point-in-polygon test. */
export function insidePolygon(v: Vec2[], x: number, y: number): boolean {
  let inside = false;
  for (let i = 0, j = v.length - 1; i < v.length; j = i++) {
    const va = v[i], vb = v[j];
    const xi = va[0], yi = va[1], xj = vb[0], yj = vb[1];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** x coordinates where the horizontal line at y crosses the polygon, sorted (scanline fill). */
export function scanlineCrossings(v: Vec2[], y: number): number[] {
  const xs: number[] = [];
  for (let i = 0, j = v.length - 1; i < v.length; j = i++) {
    const va = v[i], vb = v[j];
    const xi = va[0], yi = va[1], xj = vb[0], yj = vb[1];
    if (yi > y !== yj > y) xs.push(((xj - xi) * (y - yi)) / (yj - yi) + xi);
  }
  return xs.sort((a, b) => a - b);
}

/**
 * scanlineCrossings for the n rows y_k = top − (k + ½)·step, k = 0 … n − 1 (a grid's or a camera's
 * rows, top down): the same crossings in the same order, from one pass over the edges — each edge
 * visits only the rows its y range spans, O(vertices + crossings) instead of O(vertices × rows).
 */
export function scanlineRows(v: Vec2[], top: number, step: number, n: number): number[][] {
  const rows: number[][] = Array.from({ length: n }, () => []);
  for (let i = 0, j = v.length - 1; i < v.length; j = i++) {
    const a = v[i], b = v[j];
    const xi = a[0], yi = a[1], xj = b[0], yj = b[1];
    // a row crosses the edge when lo ≤ y < hi; the index bounds are widened by one row each way
    // against rounding, and the test itself is scanlineCrossings', so no row is gained or lost
    const lo = Math.min(yi, yj), hi = Math.max(yi, yj);
    const k0 = Math.max(0, Math.floor((top - hi) / step - 0.5) - 1);
    const k1 = Math.min(n - 1, Math.ceil((top - lo) / step - 0.5) + 1);
    for (let k = k0; k <= k1; k++) {
      const y = top - (k + 0.5) * step;
      if (yi > y !== yj > y) rows[k].push(((xj - xi) * (y - yi)) / (yj - yi) + xi);
    }
  }
  for (const xs of rows) xs.sort((p, q) => p - q);
  return rows;
}

/** Outward unit normal of edge i (from vertex i to i+1) of a counter-clockwise polygon. */
export function edgeNormal(v: Vec2[], i: number): Vec2 {
  const va = v[i], vb = v[(i + 1) % v.length];
  const x0 = va[0], y0 = va[1], x1 = vb[0], y1 = vb[1];
  const l = Math.hypot(x1 - x0, y1 - y0) || 1;
  return [(y1 - y0) / l, -(x1 - x0) / l];
}

/**
 * A bucket grid over an outline's edges, so that the wall-cell geometry of a grid (a few edges near
 * each wall cell, out of thousands) costs O(walls) rather than O(walls × vertices). Queries return
 * exactly what nearestOnOutline / firstCrossing return over all edges: the candidates are every edge
 * whose bounding box meets the query box, taken in index order through the same arithmetic.
 */
export class OutlineIndex {
  private readonly x0: number;
  private readonly y0: number;
  private readonly nbx: number;
  private readonly nby: number;
  private readonly buckets: number[][];
  private readonly seen: Uint32Array;
  private stamp = 0;

  constructor(readonly v: Vec2[], readonly cell: number) {
    let xmin = Infinity, ymin = Infinity, xmax = -Infinity, ymax = -Infinity;
    for (const vx of v) { const x = vx[0], y = vx[1]; xmin = Math.min(xmin, x); ymin = Math.min(ymin, y); xmax = Math.max(xmax, x); ymax = Math.max(ymax, y); }
    this.x0 = xmin - cell; this.y0 = ymin - cell;
    this.nbx = Math.max(1, Math.ceil((xmax - xmin) / cell) + 3);
    this.nby = Math.max(1, Math.ceil((ymax - ymin) / cell) + 3);
    this.buckets = Array.from({ length: this.nbx * this.nby }, () => []);
    this.seen = new Uint32Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const va = v[i], vb = v[(i + 1) % v.length];
      const ax = va[0], ay = va[1], bx = vb[0], by = vb[1];
      this.visit(Math.min(ax, bx), Math.min(ay, by), Math.max(ax, bx), Math.max(ay, by), (b) => this.buckets[b].push(i));
    }
  }

  private visit(xa: number, ya: number, xb: number, yb: number, f: (bucket: number) => void): void {
    const clampX = (x: number) => Math.min(this.nbx - 1, Math.max(0, Math.floor((x - this.x0) / this.cell)));
    const clampY = (y: number) => Math.min(this.nby - 1, Math.max(0, Math.floor((y - this.y0) / this.cell)));
    for (let by = clampY(ya); by <= clampY(yb); by++) for (let bx = clampX(xa); bx <= clampX(xb); bx++) f(by * this.nbx + bx);
  }

  /** indices of the edges whose bounding boxes may meet the box, ascending */
  private candidates(xa: number, ya: number, xb: number, yb: number): number[] {
    const pad = 1e-9 * this.cell; // rounding: never miss an edge that touches the box
    const out: number[] = [];
    const stamp = ++this.stamp;
    this.visit(xa - pad, ya - pad, xb + pad, yb + pad, (b) => {
      for (const e of this.buckets[b]) if (this.seen[e] !== stamp) { this.seen[e] = stamp; out.push(e); }
    });
    return out.sort((a, b) => a - b);
  }

  /** = nearestOnOutline(v, p) */
  nearest(p: Vec2, reach: number): { point: Vec2; distance: number; edge: number } {
    const r = nearestAmong(this.v, p, this.candidates(p[0] - reach, p[1] - reach, p[0] + reach, p[1] + reach));
    // every edge within `reach` was a candidate: a nearer one than r cannot have been missed
    return r.distance <= reach ? r : nearestOnOutline(this.v, p);
  }

  /** = firstCrossing(v, a, b) */
  crossing(a: Vec2, b: Vec2): { point: Vec2; edge: number } | null {
    return crossingAmong(this.v, a, b, this.candidates(Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]), Math.max(a[1], b[1])));
  }
}

function nearestAmong(v: Vec2[], p: Vec2, edges: Iterable<number>): { point: Vec2; distance: number; edge: number } {
  let best = Infinity, bp: Vec2 = p, be = 0;
  for (const i of edges) {
    const va = v[i], vb = v[(i + 1) % v.length];
    const x0 = va[0], y0 = va[1], x1 = vb[0], y1 = vb[1];
    const dx = x1 - x0, dy = y1 - y0;
    const l2 = dx * dx + dy * dy;
    const t = l2 > 0 ? Math.min(1, Math.max(0, ((p[0] - x0) * dx + (p[1] - y0) * dy) / l2)) : 0;
    const qx = x0 + t * dx, qy = y0 + t * dy;
    const d = Math.hypot(p[0] - qx, p[1] - qy);
    if (d < best) { best = d; bp = [qx, qy]; be = i; }
  }
  return { point: bp, distance: best, edge: be };
}

function crossingAmong(v: Vec2[], a: Vec2, b: Vec2, edges: Iterable<number>): { point: Vec2; edge: number } | null {
  let bestT = Infinity, be = -1;
  const rx = b[0] - a[0], ry = b[1] - a[1];
  for (const i of edges) {
    const va = v[i], vb = v[(i + 1) % v.length];
    const x0 = va[0], y0 = va[1], x1 = vb[0], y1 = vb[1];
    const sx = x1 - x0, sy = y1 - y0;
    const den = rx * sy - ry * sx;
    if (den === 0) continue;
    const qx = x0 - a[0], qy = y0 - a[1];
    const t = (qx * sy - qy * sx) / den;
    const u = (qx * ry - qy * rx) / den;
    if (t >= 0 && t <= 1 && u >= 0 && u <= 1 && t < bestT) { bestT = t; be = i; }
  }
  return be < 0 ? null : { point: [a[0] + bestT * rx, a[1] + bestT * ry], edge: be };
}

const allEdges = (v: Vec2[]) => v.keys();

/** Nearest point of the outline to p, with its distance and the edge it lies on. */
export function nearestOnOutline(v: Vec2[], p: Vec2): { point: Vec2; distance: number; edge: number } {
  return nearestAmong(v, p, allEdges(v));
}

/**
 * First crossing of the segment a→b with the outline (a inside, b outside): the point and the edge.
 * Null if the segment does not cross (a point exactly on the boundary).
 */
export function firstCrossing(v: Vec2[], a: Vec2, b: Vec2): { point: Vec2; edge: number } | null {
  return crossingAmong(v, a, b, allEdges(v));
}
