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
import { ConfigError } from '../errors';
import { edgeNormal, OutlineIndex, scanlineRows, type Outline, type Vec2 } from './geometry';
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

/** A particle's grid with its surface applied: the geometry (below) and the wall cells' flux data. */
export interface ParticleGrid extends Pick<GridGeometry, 'nx' | 'ny' | 'spacing_um' | 'x0_um' | 'yTop_um' | 'inside' | 'cells' | 'outline'> {
  walls: WallCells;
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

/**
 * The part of a grid that depends on the outline and the spacing only: the inside cells, and per
 * wall cell its faces (|n·e_f| and the surface angle where each crosses the boundary) and its nearest
 * boundary point. Sweeps, fits and the demo change the surface (η arcs) of one particle over and
 * over; applySurface makes a grid from this in time linear in the wall cells.
 */
export interface GridGeometry {
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
  outline: Outline;
  /** wall cells: linear index, normal distance δ (µm) and angle φ (deg) of the nearest boundary point */
  wallIndex: Uint32Array;
  wallDelta_um: Float64Array;
  wallAngleDeg: Float64Array;
  /** wall cell k's faces are faceStart[k] … faceStart[k + 1] − 1: |n·e_f| and the angle where the face's segment meets the boundary */
  faceStart: Uint32Array;
  faceWeight: Float64Array;
  faceAngleDeg: Float64Array;
}

export function gridGeometry(outline: Outline, spacing_um: number): GridGeometry {
  const frame = gridFrame(outline.vertices, spacing_um);
  const { inside, cells } = insideCells(outline.vertices, frame);
  return { ...frame, inside, cells, outline, ...wallGeometry(outline, inside, frame) };
}

// gridGeometry's stages as functions of their own: V8 compiles each loop with its own feedback
// (a long function's first compiled loop ran into the rest without feedback and was compiled again)

interface GridFrame { nx: number; ny: number; spacing_um: number; x0_um: number; yTop_um: number }

/** The grid's size and position: the outline's bounding box, at least one outside cell on every side */
function gridFrame(v: Vec2[], h: number): GridFrame {
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (const vx of v) {
    const x = vx[0], y = vx[1];
    minX = Math.min(minX, x); maxX = Math.max(maxX, x);
    minY = Math.min(minY, y); maxY = Math.max(maxY, y);
  }
  // At least one outside cell on every side, so that inside cells never sit on the array's edge.
  const nx = Math.ceil((maxX - minX) / h - 1e-9) + 2;
  const ny = Math.ceil((maxY - minY) / h - 1e-9) + 2;
  return { nx, ny, spacing_um: h, x0_um: (minX + maxX) / 2 - (nx * h) / 2, yTop_um: (minY + maxY) / 2 + (ny * h) / 2 };
}

/** 1 for the cells whose centres lie inside the outline (scanline fill), and their count */
function insideCells(v: Vec2[], f: GridFrame): { inside: Uint8Array; cells: number } {
  const { nx, ny, spacing_um: h, x0_um, yTop_um } = f;
  const inside = new Uint8Array(nx * ny);
  let cells = 0;
  const crossings = scanlineRows(v, yTop_um, h, ny);
  for (let row = 0; row < ny; row++) {
    const xs = crossings[row];
    for (let k = 0; k + 1 < xs.length; k += 2) {
      const c0 = Math.max(0, Math.ceil((xs[k] - x0_um) / h - 0.5));
      const c1 = Math.min(nx - 1, Math.ceil((xs[k + 1] - x0_um) / h - 0.5) - 1);
      for (let col = c0; col <= c1; col++) {
        if (!inside[row * nx + col]) { inside[row * nx + col] = 1; cells++; }
      }
    }
  }
  return { inside, cells };
}

/** The wall cells (inside cells with an outside neighbour): δ and φ of the nearest boundary point, and per outside face |n·e_f| and φ where the face's segment meets the boundary */
function wallGeometry(outline: Outline, inside: Uint8Array, f: GridFrame): Pick<GridGeometry, 'wallIndex' | 'wallDelta_um' | 'wallAngleDeg' | 'faceStart' | 'faceWeight' | 'faceAngleDeg'> {
  const v = outline.vertices;
  const { nx, ny, spacing_um: h } = f;
  const [cx, cy] = outline.centroid;
  const angleOf = (p: Vec2) => ((Math.atan2(p[1] - cy, p[0] - cx) * 180) / Math.PI + 360) % 360;
  const dirs: { dr: number; dc: number; e: Vec2 }[] = [
    { dr: 0, dc: 1, e: [1, 0] },
    { dr: 0, dc: -1, e: [-1, 0] },
    { dr: -1, dc: 0, e: [0, 1] },
    { dr: 1, dc: 0, e: [0, -1] },
  ];
  const index: number[] = [], delta: number[] = [], angle: number[] = [];
  const faceStart: number[] = [0], faceWeight: number[] = [], faceAngle: number[] = [];
  const edges = new OutlineIndex(v, h);
  for (let row = 1; row < ny - 1; row++) {
    for (let col = 1; col < nx - 1; col++) {
      const i = row * nx + col;
      if (!inside[i]) continue;
      const c = cellCentre(f, row, col);
      const first = faceWeight.length;
      for (const d of dirs) {
        if (inside[i + d.dr * nx + d.dc]) continue;
        const nb: Vec2 = [c[0] + d.e[0] * h, c[1] + d.e[1] * h];
        const hit = edges.crossing(c, nb);
        const p = hit ? hit.point : edges.nearest(c, 2 * h).point;
        const edge = hit ? hit.edge : edges.nearest(c, 2 * h).edge;
        const n = outline.normalAt ? outline.normalAt(p) : edgeNormal(v, edge);
        faceWeight.push(Math.abs(n[0] * d.e[0] + n[1] * d.e[1]));
        faceAngle.push(angleOf(p));
      }
      if (faceWeight.length === first) continue;
      const near = edges.nearest(c, 2 * h);
      index.push(i);
      delta.push(near.distance);
      angle.push(angleOf(near.point));
      faceStart.push(faceWeight.length);
    }
  }
  return {
    wallIndex: Uint32Array.from(index), wallDelta_um: Float64Array.from(delta), wallAngleDeg: Float64Array.from(angle),
    faceStart: Uint32Array.from(faceStart), faceWeight: Float64Array.from(faceWeight), faceAngleDeg: Float64Array.from(faceAngle),
  };
}

/** The grid of `geometry` with the surface `segments` (η arcs) and flux normalisation applied. */
export function applySurface(geometry: GridGeometry, segments: SurfaceSegment[], normalize: FluxNormalization): ParticleGrid {
  const g = geometry;
  const n = g.wallIndex.length;
  const rawWeight = new Float64Array(n), act = new Float64Array(n);
  let faceWeight = 0, activityWeight = 0;
  for (let k = 0; k < n; k++) {
    let w = 0;
    for (let f = g.faceStart[k]; f < g.faceStart[k + 1]; f++) {
      const fw = g.faceWeight[f];
      const s = surfaceActivity(segments, g.faceAngleDeg[f]);
      w += s * fw;
      faceWeight += fw;
      activityWeight += s * fw;
    }
    rawWeight[k] = w;
    act[k] = surfaceActivity(segments, g.wallAngleDeg[k]);
  }
  const sBar = faceWeight > 0 ? activityWeight / faceWeight : 1;
  if (normalize === 'total-current' && !(sBar > 0)) {
    throw new ConfigError('surface.segments block the whole surface (η = 0 everywhere): no current can pass under surface.normalize = "total-current"');
  }
  const norm = normalize === 'total-current' ? 1 / sBar : 1;
  const walls: WallCells = {
    index: g.wallIndex,
    fluxWeight: Float32Array.from(rawWeight, (w) => w * norm),
    surfaceOffset_m: Float32Array.from(g.wallDelta_um, (d, k) => act[k] * norm * d * 1e-6),
    angleDeg: Float32Array.from(g.wallAngleDeg),
    activity: Float32Array.from(act),
  };
  const h = g.spacing_um;
  return {
    nx: g.nx, ny: g.ny, spacing_um: h, x0_um: g.x0_um, yTop_um: g.yTop_um, inside: g.inside, cells: g.cells, walls, outline: g.outline,
    area_um2: g.cells * h * h,
    perimeter_um: faceWeight * h,
    sBar,
    sBarEffective: normalize === 'total-current' ? 1 : sBar,
    normalize,
  };
}

export function buildGrid(outline: Outline, spacing_um: number, segments: SurfaceSegment[], normalize: FluxNormalization): ParticleGrid {
  return applySurface(gridGeometry(outline, spacing_um), segments, normalize);
}
