/**
 * The control panel. lil-gui (0.21, MIT, maintained, no dependencies, ~30 kB): plain objects in,
 * one line per control, folders, and onFinishChange so that a slider rebuilds once when let go
 * rather than on every pixel; tweakpane would do as well but brings a plugin system we do not need.
 * Every control's name carries its unit.
 */
import GUI from 'lil-gui';
import { PRESETS } from '../../src/browser';
import { DIFFUSIVITIES, SPEED_MAX, type DemoState } from '../state';

export interface ControlActions {
  /** a value changed; `key` names it (the app decides: rebuild the grid, the problem, or a uniform) */
  changed(key: keyof DemoState): void;
  preset(name: string): void;
  play(): void;
  pause(): void;
  step(): void;
  reset(): void;
  clearBlocking(): void;
  copyLink(): void;
  exportConfig(): void;
  saveCsv(): void;
  /** a value typed into a control that the control had to clamp (named, with what is allowed) */
  refused(message: string): void;
}

export class Controls {
  readonly gui: GUI;
  private readonly playCtl: ReturnType<GUI['add']>;
  /** the constant preset's log10 D and the knee's three parameters: shown for their preset only */
  private readonly constCtl: ReturnType<GUI['add']>;
  private readonly kneeCtls: ReturnType<GUI['add']>[];
  private readonly diameterCtl: ReturnType<GUI['add']>;

  constructor(host: HTMLElement, private readonly state: DemoState, actions: ControlActions) {
    const gui = (this.gui = new GUI({ container: host, title: 'ionflux — live particle', width: 300 }));
    const s = state;
    const on = (key: keyof DemoState) => () => actions.changed(key);
    gui.add(s, 'preset', Object.keys(PRESETS)).name('preset').onChange((v: string) => actions.preset(v));
    const run = gui.addFolder('run');
    const buttons = {
      playPause: () => (s.playing ? actions.pause() : actions.play()),
      step: () => actions.step(),
      reset: () => actions.reset(),
    };
    this.playCtl = run.add(buttons, 'playPause').name(s.playing ? '⏸ pause' : '▶ play');
    run.add(buttons, 'step').name('⏭ step 10 s');
    run.add(buttons, 'reset').name('⟲ reset to t = 0');
    run.add(s, 'speed', 1, SPEED_MAX, 1).name('speed (simulated s / s)').onFinishChange(on('speed'));
    run.add(s, 'view', { 'θ (Li occupancy)': 'theta', 'ΔI/I0 (forward model)': 'diff' }).name('view').onChange(on('view'));
    const particle = gui.addFolder('particle and grid (a new grid: restarts)');
    // the disk's diameter: other shapes (ellipse, outline, an observed particle's mask) have their own sizes
    this.diameterCtl = particle.add(s, 'diameter_um', 0.4, 10, 0.1).name('disk diameter (µm)').onFinishChange(on('diameter_um'));
    particle.add(s, 'spacing_um', 0.005, 0.2, 0.005).name('grid spacing (µm)').onFinishChange(on('spacing_um'));
    const d = gui.addFolder('diffusivity (the run carries on)');
    d.add(s, 'diffusivity', DIFFUSIVITIES).name('preset').onChange(() => { this.showDiffusivity(); actions.changed('diffusivity'); });
    this.constCtl = d.add(s, 'log10DConst', -19, -12, 0.1).name('constant: log10 D (m²/s)').onFinishChange(on('log10DConst'));
    this.kneeCtls = [
      d.add(s, 'thetaKnee', 0.05, 0.99, 0.01).name('knee θ* (–)').onFinishChange(on('thetaKnee')),
      d.add(s, 'log10DHigh', -19, -12, 0.1).name('log10 D below θ* (m²/s)').onFinishChange(on('log10DHigh')),
      d.add(s, 'log10DLow', -19, -12, 0.1).name('log10 D at θ = 1 (m²/s)').onFinishChange(on('log10DLow')),
    ];
    this.showDiffusivity();
    const p = gui.addFolder('protocol');
    p.add(s, 'current_mA_g', 1, 2000, 1).name('current (mA/g)').onFinishChange(on('current_mA_g'));
    p.add(s, 'charge_min', 1, 600, 1).name('charge (min)').onFinishChange(on('charge_min'));
    p.add(s, 'rest_min', 0, 600, 1).name('then rest (min)').onFinishChange(on('rest_min'));
    p.add(s, 'discharge_min', 0, 600, 1).name('then discharge (min)').onFinishChange(on('discharge_min'));
    p.add(s, 'cutoff', 0, 0.95, 0.01).name('cut-off surface θs (–)').onFinishChange(on('cutoff'));
    p.add(s, 'normalize', ['total-current', 'clean-flux']).name('normalisation').onChange(on('normalize'));
    const b = gui.addFolder('surface blocking (drag on the rim)');
    const eta = b.add(s, 'brushEta', 0, 1, 0.05).name('brush η (–, 0 = blocked)').onChange(on('brushEta'));
    // lil-gui clamps a typed value to [min, max] silently: say so, for η and every other number
    for (const c of gui.controllersRecursive()) {
      const input = (c as unknown as { $input?: HTMLInputElement }).$input;
      const lo = (c as unknown as { _min?: number })._min, hi = (c as unknown as { _max?: number })._max;
      if (!input || input.type === 'checkbox' || lo === undefined || hi === undefined) continue;
      input.addEventListener('change', () => {
        const v = Number(input.value.trim());
        const what = c === eta ? 'η must lie in [0, 1] (0 = fully blocked, 1 = clean surface)' : `allowed: ${lo} … ${hi}`;
        if (input.value.trim() !== '' && Number.isFinite(v) && (v < lo || v > hi)) actions.refused(`${c._name} = ${input.value.trim()} is outside the range: ${what}; set to ${c.getValue()}`);
        else if (input.value.trim() !== '' && !Number.isFinite(v)) actions.refused(`${c._name} = '${input.value.trim()}' is not a number; kept ${c.getValue()}`);
      }, { capture: true });
    }
    b.add({ clear: () => actions.clearBlocking() }, 'clear').name('clear all blocking');
    const share = gui.addFolder('share and save');
    share.add({ link: () => actions.copyLink() }, 'link').name('copy link');
    share.add({ exp: () => actions.exportConfig() }, 'exp').name('export config (JSON)');
    share.add({ csv: () => actions.saveCsv() }, 'csv').name('save trace (CSV)');
  }

  /** the parameters of the diffusivity preset chosen (the others' are hidden), and the diameter only for a disk */
  private showDiffusivity(): void {
    this.constCtl.show(this.state.diffusivity === 'constant');
    for (const c of this.kneeCtls) c.show(this.state.diffusivity === 'knee');
    this.diameterCtl.show(this.state.shape === 'disk');
  }

  /** shows the state's values (after a preset, a hash change, or a clamp) */
  refresh(): void {
    this.playCtl.name(this.state.playing ? '⏸ pause' : '▶ play');
    this.showDiffusivity();
    for (const c of this.gui.controllersRecursive()) c.updateDisplay();
  }
}
