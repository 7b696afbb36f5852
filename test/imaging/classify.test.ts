import { describe, expect, it } from 'vitest';
import { asymmetricFraction, classifyParticle } from '../../src/imaging/classify';

describe('symmetric / asymmetric rule', () => {
  const fraction = [1, 0.95, 0.85, 0.7, 0.5, 0.3, 0.15, 0.05, 0];
  it('looks only at first-charge frames with unreacted fraction in [0.2, 0.9]', () => {
    // large offsets outside the window (frames 1, 6, 7) must not count
    const d = [0, 0.9, 0.05, 0.08, 0.1, 0.12, 0.8, 0.9, null];
    const c = classifyParticle(d, fraction);
    expect(c.frames).toEqual([2, 3, 4, 5]);
    expect(c.maxComOffsetRel).toBe(0.12);
    expect(c.maxFrame).toBe(5);
    expect(c.asymmetric).toBe(false);
    expect(classifyParticle(d, fraction, { threshold: 0.1 }).asymmetric).toBe(true);
  });
  it('ignores frames after the first minimum of the unreacted fraction (rest, discharge)', () => {
    const f = [1, 0.6, 0.1, 0.5, 0.8];
    const d = [0, 0.05, 0.3, 0.6, 0.6];
    const c = classifyParticle(d, f);
    expect(c.frames).toEqual([1]);
    expect(c.asymmetric).toBe(false);
  });
  it('threshold and window are parameters; no frame in the window → undetermined', () => {
    const d = [0, 0.9, 0.05, 0.08, 0.1, 0.12, 0.8, 0.9, null];
    expect(classifyParticle(d, fraction, { fractionWindow: [0.1, 0.99] }).asymmetric).toBe(true);
    const c = classifyParticle([0, 0, 0], [1, 1, 1]);
    expect(c.asymmetric).toBeNull();
    expect(c.maxComOffsetRel).toBeNull();
  });
  it('fraction of asymmetric particles counts the classified ones', () => {
    expect(asymmetricFraction([true, false, null, true])).toBeCloseTo(2 / 3, 12);
    expect(asymmetricFraction([null])).toBeNull();
    expect(asymmetricFraction([])).toBeNull();
  });
});
