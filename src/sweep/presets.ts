/**
 * Built-in sweeps. `fig5b` is the paper's rate study (Lun et al. 2025, Fig. 5b; ../shared/PAPER.md):
 * the 2.4 µm disk charged to the θs = 0.2 cut-off at 50, 100, 200 and 400 mA/g, with no blocking
 * and with a quarter of the surface (centred at 180°) blocked at η = 0.7 and at η = 0.3 — 12 runs.
 */
import { SweepSpecError } from './spec';

const quarter = (eta: number) => [{ fromDeg: 135, toDeg: 225, eta }];

export const SWEEP_PRESETS: Record<string, () => Record<string, unknown>> = {
  fig5b: () => ({
    name: 'fig5b',
    description: 'Lun et al. 2025 Fig. 5b: Li extracted to the θs = 0.2 cut-off against the charge rate, no blocking vs a quarter blocked at η = 0.7 and 0.3',
    base: {
      config: {
        particle: { shape: 'disk', diameter_um: 2.4 },
        grid: { spacing_um: 0.02 },
        material: { capacity_mAh_g: 275.0, diffusivity: { preset: 'knee' } },
        initialTheta: 1.0,
        surface: { normalize: 'total-current', segments: [] },
        // long enough for the slowest case (50 mA/g, no blocking: ~4.5 h); the cut-off ends each run
        protocol: [{ step: 'charge', current_mA_g: 100, duration_min: 600 }],
        cutoff: { surfaceTheta: 0.2 },
        snapshots_min: [],
        output: { traceInterval_s: 30 },
      },
    },
    grid: {
      'surface.segments': [[], quarter(0.7), quarter(0.3)],
      'protocol.0.current_mA_g': [50, 100, 200, 400],
    },
    plot: { x: 'protocol.0.current_mA_g', series: 'surface.segments', y: 'extractedCapacity_mAh_g' },
  }),
};

export function sweepPreset(name: string): Record<string, unknown> {
  const make = SWEEP_PRESETS[name];
  if (!make) throw new SweepSpecError(`--preset '${name}' is not allowed: the built-in sweeps are ${Object.keys(SWEEP_PRESETS).join(', ')}`);
  return make();
}
