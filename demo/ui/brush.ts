/**
 * The η brush: the rim as 360 one-degree bins of surface activity s (1 = clean), painted along the
 * angles the pointer passes, and turned back into the config's segments (SPEC §3: degrees ccw from
 * +x about the particle's centre of mass; runs of equal η, one segment each).
 */
import type { SurfaceSegment } from '../../src/browser';
import { surfaceActivity } from '../../src/model/surface';

export function binsFromSegments(segments: SurfaceSegment[]): Float32Array {
  return Float32Array.from({ length: 360 }, (_, k) => surfaceActivity(segments, k + 0.5));
}

/** Paints η on the bins from angle a to angle b (degrees), the short way round. */
export function paintArc(bins: Float32Array, aDeg: number, bDeg: number, eta: number): void {
  let d = (((bDeg - aDeg) % 360) + 540) % 360 - 180; // in [−180, 180)
  if (Math.abs(d) < 1e-9) d = 0;
  const from = d >= 0 ? aDeg : aDeg + d;
  const span = Math.abs(d);
  const k0 = Math.floor(from), k1 = Math.floor(from + span);
  for (let k = k0; k <= k1; k++) bins[((k % 360) + 360) % 360] = eta;
}

/** Runs of equal η ≠ 1 as segments (a run through 0° becomes one segment with a negative fromDeg). */
export function segmentsFromBins(bins: Float32Array): SurfaceSegment[] {
  const n = bins.length;
  if (bins.every((v) => v === bins[0])) return bins[0] === 1 ? [] : [{ fromDeg: 0, toDeg: 360, eta: round(bins[0]) }];
  // start the scan at a change so that no run is split at 0°
  let start = 0;
  while (bins[start] === bins[(start + n - 1) % n]) start++;
  const out: SurfaceSegment[] = [];
  for (let i = 0; i < n; ) {
    const k = (start + i) % n, v = bins[k];
    let len = 1;
    while (i + len < n && bins[(start + i + len) % n] === v) len++;
    if (v !== 1) {
      const from = k > 180 && k + len > 360 ? k - 360 : k;
      out.push({ fromDeg: from, toDeg: from + len, eta: round(v) });
    }
    i += len;
  }
  return out.sort((a, b) => a.fromDeg - b.fromDeg);
}

const round = (v: number) => Number(v.toPrecision(6));
