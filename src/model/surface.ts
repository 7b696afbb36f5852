/**
 * Surface activity s(φ): 1 on clean surface, η on rocksalt-blocked segments (η = j_RSL/j_NMC), with φ
 * in degrees counter-clockwise from +x about the particle's centre of mass (SPEC §1, §3).
 */

export interface SurfaceSegment {
  fromDeg: number;
  toDeg: number;
  eta: number;
}

export type FluxNormalization = 'total-current' | 'clean-flux';

/** Span of a segment in degrees, in (0, 360]: from→to counter-clockwise, wrapping through 0°. */
export function segmentSpan(seg: SurfaceSegment): number {
  const raw = seg.toDeg - seg.fromDeg;
  if (raw >= 360) return 360;
  const m = ((raw % 360) + 360) % 360;
  return m;
}

/** True if angle φ (degrees) lies on the segment [from, to) going counter-clockwise. */
export function onSegment(seg: SurfaceSegment, phiDeg: number): boolean {
  const span = segmentSpan(seg);
  if (span >= 360) return true;
  const d = (((phiDeg - seg.fromDeg) % 360) + 360) % 360;
  return d < span;
}

/** s(φ) for a list of (non-overlapping) segments. */
export function surfaceActivity(segments: SurfaceSegment[], phiDeg: number): number {
  for (const seg of segments) if (onSegment(seg, phiDeg)) return seg.eta;
  return 1;
}

/** Overlap of two segments in degrees (0 if disjoint). */
export function segmentOverlapDeg(a: SurfaceSegment, b: SurfaceSegment): number {
  // sample at 0.01° resolution relative to a's start: exact enough to tell touching from overlapping
  const spanA = segmentSpan(a), spanB = segmentSpan(b);
  const startB = (((b.fromDeg - a.fromDeg) % 360) + 360) % 360;
  // overlap of [0, spanA) with [startB, startB + spanB) and its copy shifted by −360
  const ov = (s: number) => Math.max(0, Math.min(spanA, s + spanB) - Math.max(0, s));
  return Math.min(spanA, spanB, ov(startB) + ov(startB - 360));
}
