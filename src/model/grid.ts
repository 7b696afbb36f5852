/**
 * The Cartesian grid of a particle: which cells are inside, and for each wall cell (an inside cell
 * with an outside 4-neighbour) the boundary data the solvers need.
 *
 * Wall flux (SPEC §1): each wall face f (inside cell → outside neighbour, face normal e_f) carries the
 * flux density q0·s·|n·e_f| with n the true outward normal where the segment between the two cell
 * centres crosses the true boundary. Per piece of true arc dl, the x-facing faces of the staircase
 * have total length |n_x|·dl and the y-facing ones |n_y|·dl, so the weighted flux is
 * q0·s·(n_x² + n_y²)·dl = q0·s·dl: exact per unit of true boundary, at every resolution.
 *
 * Discrete area and perimeter (A_d = N·h², P_d = Σ_f |n·e_f|·h) define q0 = k·A_d/P_d, which makes
 * the extracted charge equal to current × time to round-off on any grid.
 */
import { edgeNormal, OutlineIndex, scanlineCrossings, type Outline, type Vec2 } from './geometry';
import { surfaceActivity, type FluxNormalization, type SurfaceSegment } from './surface';

export interface WallCells {
  /** linear cell index (row·nx + col) */
  index: Uint32Array;
  /** Σ over the cell's wall faces of s_norm·|n·e_f| (face lengths in units of h) */
  fluxWeight: Float32Array;
  /** s_norm·δ at the nearest boundary point, m (δ = true normal distance from the cell centre) */
  surfaceOffset_m: Float32Array;
  /** surface angle φ of the nearest boundary point, degrees in [0, 360) */
  angleDeg: Float32Array;
  /** raw activity s (η or 1) at the nearest boundary point */
  activity: Float32Array;
}

export interface ParticleGrid {
  nx: number;
  ny: number;
  spacing_um: number;
  /** x of the left edge of column 0, µm */
  x0_um: number;
  /** y of the top edge of row 0, µm (rows grow downward, y points up) */
  yTop_um: number;
  /** 1 inside the particle */
  inside: Uint8Array;
  /** number of inside cells */
  cells: number;
  walls: WallCells;
  outline: Outline;
  /** N·h², µm² */
  area_um2: number;
  /** Σ_f |n·e_f|·h, µm */
  perimeter_um: number;
  /** perimeter-weighted mean of s */
  sBar: number;
  /** the factor the applied current is multiplied by: 1 (total-current) or s̄ (clean-flux) */
  sBarEffective: number;
  normalize: FluxNormalization;
}

export function cellCentre(g: Pick<ParticleGrid, 'x0_um' | 'yTop_um' | 'spacing_um'>, row: number, col: number): Vec2 {
  return [g.x0_um + (col + 0.5) * g.spacing_um, g.yTop_um - (row + 0.5) * g.spacing_um];
}

export function buildGrid(outline: Outline, spacing_um: number, segments: SurfaceSegment[], normalize: FluxNormalization): ParticleGrid {
  const v = outline.vertices;
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (const [x, y] of v) {
    minX = Math.min(minX, x); maxX = Math.max(maxX, x);
    minY = Math.min(minY, y); maxY = Math.max(maxY, y);
  }
  const h = spacing_um;
  // At least one outside cell on every side, so that inside cells never sit on the array's edge.
  const nx = Math.ceil((maxX - minX) / h - 1e-9) + 2;
  const ny = Math.ceil((maxY - minY) / h - 1e-9) + 2;
  const x0_um = (minX + maxX) / 2 - (nx * h) / 2;
  const yTop_um = (minY + maxY) / 2 + (ny * h) / 2;
  const geo = { x0_um, yTop_um, spacing_um: h };

  const inside = new Uint8Array(nx * ny);
  let cells = 0;
  for (let row = 0; row < ny; row++) {
    const y = yTop_um - (row + 0.5) * h;
    const xs = scanlineCrossings(v, y);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      const c0 = Math.max(0, Math.ceil((xs[k] - x0_um) / h - 0.5));
      const c1 = Math.min(nx - 1, Math.ceil((xs[k + 1] - x0_um) / h - 0.5) - 1);
      for (let col = c0; col <= c1; col++) {
        if (!inside[row * nx + col]) { inside[row * nx + col] = 1; cells++; }
      }
    }
  }

  const [cx, cy] = outline.centroid;
  const angleOf = (p: Vec2) => ((Math.atan2(p[1] - cy, p[0] - cx) * 180) / Math.PI + 360) % 360;
  const dirs: { dr: number; dc: number; e: Vec2 }[] = [
    { dr: 0, dc: 1, e: [1, 0] },
    { dr: 0, dc: -1, e: [-1, 0] },
    { dr: -1, dc: 0, e: [0, 1] },
    { dr: 1, dc: 0, e: [0, -1] },
  ];
  const index: number[] = [], rawWeight: number[] = [], delta: number[] = [], angle: number[] = [], act: number[] = [];
  let faceWeight = 0, activityWeight = 0;
  const edges = new OutlineIndex(v, h);
  for (let row = 1; row < ny - 1; row++) {
    for (let col = 1; col < nx - 1; col++) {
      const i = row * nx + col;
      if (!inside[i]) continue;
      let w = 0;
      let isWall = false;
      const c = cellCentre(geo, row, col);
      for (const d of dirs) {
        if (inside[i + d.dr * nx + d.dc]) continue;
        isWall = true;
        const nb: Vec2 = [c[0] + d.e[0] * h, c[1] + d.e[1] * h];
        const hit = edges.crossing(c, nb);
        const p = hit ? hit.point : edges.nearest(c, 2 * h).point;
        const edge = hit ? hit.edge : edges.nearest(c, 2 * h).edge;
        const n = outline.normalAt ? outline.normalAt(p) : edgeNormal(v, edge);
        const fw = Math.abs(n[0] * d.e[0] + n[1] * d.e[1]);
        const s = surfaceActivity(segments, angleOf(p));
        w += s * fw;
        faceWeight += fw;
        activityWeight += s * fw;
      }
      if (!isWall) continue;
      const near = edges.nearest(c, 2 * h);
      const phi = angleOf(near.point);
      index.push(i);
      rawWeight.push(w);
      delta.push(near.distance);
      angle.push(phi);
      act.push(surfaceActivity(segments, phi));
    }
  }
  const sBar = faceWeight > 0 ? activityWeight / faceWeight : 1;
  if (normalize === 'total-current' && !(sBar > 0)) {
    throw new Error('surface.segments block the whole surface (η = 0 everywhere): no current can pass under surface.normalize = "total-current"');
  }
  const norm = normalize === 'total-current' ? 1 / sBar : 1;
  const n = index.length;
  const walls: WallCells = {
    index: Uint32Array.from(index),
    fluxWeight: Float32Array.from(rawWeight, (w) => w * norm),
    surfaceOffset_m: Float32Array.from(delta, (d, k) => act[k] * norm * d * 1e-6),
    angleDeg: Float32Array.from(angle),
    activity: Float32Array.from(act),
  };
  void n;
  return {
    nx, ny, spacing_um: h, x0_um, yTop_um, inside, cells, walls, outline,
    area_um2: cells * h * h,
    perimeter_um: faceWeight * h,
    sBar,
    sBarEffective: normalize === 'total-current' ? 1 : sBar,
    normalize,
  };
}
