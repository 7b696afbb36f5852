/**
 * The live demo (issue 10): the fig4c particle charging on WebGPU from the moment the page opens.
 * One state object (state.ts) behind the URL hash, the controls and the simulation; the GpuSolver
 * (or, without WebGPU, the CPU reference in a worker) stepped a budget of steps per animation frame
 * (sim/liveRun.ts); the field drawn from the GPU state buffer (render/gpuField.ts) or with regl
 * (render/reglField.ts); a 2D overlay (render/overlay.ts); uPlot plots (ui/plots.ts).
 * window.ionfluxDemo exposes the page's own numbers to the tests (test/demo/).
 */
import {
  acquireGpu, buildProblem, GpuSolver, resolveConfig, ConfigError, defaultThetaRange,
  type GpuContext, type Problem, type SurfaceSegment,
} from '../src/browser';
import { surfaceActivity } from '../src/model/surface';
import { LiveRun, type LiveCheckpoint, type TraceRow } from './sim/liveRun';
import { DEMO_MAX_CELLS } from './sim/limits';
import { encodeHash, parseHash, rawConfig, stateFromPreset, type DemoState } from './state';
import { GpuFieldView } from './render/gpuField';
import { ReglFieldView } from './render/reglField';
import { diffScale, layoutFor, thetaScale, toPx, VIEW_H, VIEW_W, type ColourScale, type Layout } from './render/layout';
import { drawOverlay, ringRadiusPx } from './render/overlay';
import { Controls } from './ui/controls';
import { Plots, traceCsv } from './ui/plots';
import { binsFromSegments, paintArc, segmentsFromBins } from './ui/brush';
import { ViewTransform } from './render/view';
import { wirePanZoom } from './ui/panZoom';
import { StepBudget } from './sim/stepBudget';
import { wireViewBar } from './ui/viewBar';
import { composeView, downloadPng } from './ui/exportPng';
import { ShapeTools } from './ui/shapes';
import { ObservedPanel } from './observed/panel';
import { shapeFromParticle } from './state';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

type Path = 'webgpu' | 'cpu';

class App {
  state: DemoState;
  path: Path = 'webgpu';
  pathReason = '';
  adapter = '';
  problem: Problem | null = null;
  layout: Layout | null = null;
  private messages: string[] = [];
  // WebGPU path
  private gpu: GpuContext | null = null;
  solver: GpuSolver | null = null;
  run: LiveRun | null = null;
  private gpuView: GpuFieldView | null = null;
  /** solver work runs one at a time, in order (stepping, rebuilding) */
  private queue: Promise<unknown> = Promise.resolve();
  private busy = false;
  private stepDebt = 0;
  budget = 1;
  /** steps per frame from the measured cost of a step (sim/stepBudget.ts) */
  private readonly stepBudget = new StepBudget();
  private lastFpsCheck = 0;
  /** what the overlay last drew (it is redrawn only when this changes) */
  private overlayKey = '';
  /** the field needs drawing again */
  dirty = true;
  private drawnView = '';
  draws = 0;
  // CPU path
  private worker: Worker | null = null;
  private reglView: ReglFieldView | null = null;
  private cpuField: Float32Array | null = null;
  private cpuDrawn: Float32Array | null = null;
  private cpuTrace: TraceRow[] = [];
  private cpuInfo = { t: 0, charge: 0, steps: 0, done: false, stepsPerS: 0, budget: 0 };
  // device loss: the last read-back state (a LiveCheckpoint of the problem it was taken on)
  private checkpoint: { cp: LiveCheckpoint; problem: Problem } | null = null;
  private lastCheckpointAt = -Infinity;
  private checkpointRows = -1;
  /** simulated time between the last two checkpoints, s (the read-back interval the tests allow) */
  checkpointInterval_s = 0;
  /** bumped when the device is lost: solver work queued before that is dropped */
  private generation = 0;
  private recovering = false;
  recoveries = 0;
  /** the time the run went on from after the last recovery, s (null: never recovered) */
  resumedFrom_s: number | null = null;
  // view and interaction
  private overlay: CanvasRenderingContext2D;
  private plots: Plots;
  private controls: Controls | null = null;
  /** the particle's shape (ellipse, drawn polygon, mask image) and the observed movie beside the view */
  shapes: ShapeTools | null = null;
  observed: ObservedPanel | null = null;
  private bins: Float32Array = new Float32Array(360).fill(1);
  private painting: { lastDeg: number } | null = null;
  private brushAt: [number, number] | null = null;
  private lastHash = '';
  /** pan / zoom of the field (render/view.ts); the view version last drawn */
  readonly view = new ViewTransform();
  private drawnViewVersion = -1;
  panMode = false;
  editedMidRun = false;
  // benchmark
  private frames: number[] = [];
  private stepLog: { at: number; steps: number }[] = [];
  private lastFrame = performance.now();
  private lastPlot = 0;
  frameCount = 0;

  constructor() {
    const { state, errors } = parseHash(location.hash);
    this.state = state;
    for (const e of errors) this.message(e);
    this.overlay = $<HTMLCanvasElement>('overlay').getContext('2d') as CanvasRenderingContext2D;
    this.plots = new Plots($('plots'));
    this.bins = binsFromSegments(state.segments);
  }

  async boot(): Promise<void> {
    const why = await this.tryGpu();
    if (why) this.startCpu(why);
    else this.makeOverlay(true);
    this.controls = new Controls($('controls'), this.state, {
      changed: (k) => this.changed(k),
      preset: (name) => this.applyState(stateFromPreset(name, this.state)),
      play: () => this.setPlaying(true),
      pause: () => this.setPlaying(false),
      step: () => this.stepOnce(),
      reset: () => this.rebuild(true),
      clearBlocking: () => { this.state.segments = []; this.bins.fill(1); this.changed('segments'); },
      copyLink: () => { this.writeHash(); void navigator.clipboard?.writeText(location.href).catch(() => {}); },
      exportConfig: () => this.exportConfig(),
      saveCsv: () => download('ionflux-trace.csv', traceCsv(this.trace()), 'text/csv'),
      refused: (m) => this.message(m),
    });
    this.wirePointer();
    this.shapes = new ShapeTools(this.controls.gui, $('view'), this.state, {
      apply: (key) => { this.controls?.refresh(); this.changed(key); },
      message: (m) => this.message(m),
      layout: () => this.layout,
      view: this.view,
    });
    this.observed = new ObservedPanel($('observed'), {
      message: (m) => this.message(m),
      simNow: () => ({ time_s: this.metrics().time_s, charge_mAh_g: this.path === 'cpu' ? this.cpuInfo.charge : this.run?.chargePassed_mAh_g ?? 0, trace: this.trace() }),
      fieldNow: () => this.fieldNow(),
      shapes: this.shapes,
    });
    wireViewBar($('viewbar'), {
      resetView: () => { this.view.reset(); this.dirty = true; },
      panMode: (on) => { this.panMode = on; },
      saveViewPng: () => this.saveViewPng(),
    });
    addEventListener('hashchange', () => {
      if (location.hash.replace(/^#/, '') === this.lastHash) return;
      const { state, errors } = parseHash(location.hash);
      for (const e of errors) this.message(e);
      this.applyState(state);
    });
    this.writeHash();
    requestAnimationFrame((t) => this.frame(t));
  }

  // ---------------------------------------------------------------- the two paths

  /** Starts the WebGPU path; returns why it cannot run, or null when it runs. */
  private async tryGpu(): Promise<string | null> {
    if (!('gpu' in navigator) || !navigator.gpu) return 'this browser exposes no navigator.gpu (WebGPU is off, unsupported, or the page is not a secure context)';
    try {
      this.useGpu(await acquireGpu());
    } catch (e) {
      return `no WebGPU device: ${(e as Error).message}`;
    }
    try {
      this.gpuView = new GpuFieldView(this.gpu as GpuContext, $<HTMLCanvasElement>('field'));
    } catch (e) {
      return `the WebGPU canvas could not be set up: ${(e as Error).message}`;
    }
    this.path = 'webgpu';
    this.pathReason = '';
    this.banner();
    await this.rebuild(true);
    return null;
  }

  /**
   * Takes `gpu` as the page's device and listens for its loss — every reason, 'destroyed' included
   * (the page itself never destroys its device, so a destroy is a loss too; acquireGpu's onLost
   * leaves 'destroyed' out for the CLI's sake).
   */
  private useGpu(gpu: GpuContext): void {
    this.gpu = gpu;
    this.adapter = gpu.report.name;
    void gpu.device.lost.then((info) => {
      if (this.gpu === gpu) void this.deviceLost(`${info.reason}${info.message ? `: ${info.message}` : ''}`);
    });
  }

  /**
   * A lost device: a new adapter and device, and the GpuSolver rebuilt from the last state the page
   * read back (the run goes on at that time and charge, not t = 0). Only when no device can be had
   * does the CPU worker take over — from that same state. Work queued on the old device is dropped.
   */
  private async deviceLost(why: string): Promise<void> {
    if (this.path !== 'webgpu' || this.recovering) return;
    this.recovering = true;
    this.generation++;
    this.queue = Promise.resolve();
    this.busy = false;
    this.solver = null;
    this.run = null;
    this.gpuView = null;
    this.gpu = null;
    const saved = this.checkpoint && this.checkpoint.problem === this.problem ? this.checkpoint.cp : null;
    const at = saved ? `t = ${(saved.time_s / 60).toFixed(2)} min, Q = ${saved.chargePassed_mAh_g.toFixed(1)} mAh/g` : 't = 0 (no state had been read back)';
    try {
      const gpu = await acquireGpu();
      this.useGpu(gpu);
      this.gpuView = new GpuFieldView(gpu, freshCanvas('field'));
      this.banner();
      await this.enqueue(async () => {
        const problem = this.problem as Problem;
        const solver = await GpuSolver.create(gpu, problem);
        this.solver = solver;
        this.run = saved ? LiveRun.resume(problem, solver, saved) : new LiveRun(problem, solver);
        if (!saved) await this.run.start();
        this.stepDebt = 0;
        this.dirty = true;
        this.plots.set(this.run.trace, this.state.cutoff);
      });
      this.recoveries++;
      this.resumedFrom_s = saved?.time_s ?? 0;
      this.message(`the WebGPU device was lost (${why}): recovered on a new device (${gpu.report.name}); the run goes on from the last read-back state at ${at}`);
    } catch (e) {
      this.message(`the WebGPU device was lost (${why}) and no new one could be had (${(e as Error).message}): the CPU reference goes on from the last read-back state at ${at}`);
      this.gpu = null;
      this.resumedFrom_s = saved?.time_s ?? 0;
      this.startCpu(`the WebGPU device was lost (${why}) and no new WebGPU device could be had`, saved);
    } finally {
      this.recovering = false;
    }
  }

  /**
   * Reads the run's state back (a LiveCheckpoint) when a trace row came in and at least 0.5 s of
   * wall time passed since the last one: the point a lost device goes on from. One 4-byte-per-cell
   * readback, queued between advances like every other solver call.
   */
  private maybeCheckpoint(now: number): void {
    const run = this.run, problem = this.problem, gen = this.generation;
    if (!run || !problem || now - this.lastCheckpointAt < 500 || run.trace.length === this.checkpointRows) return;
    this.lastCheckpointAt = now;
    this.checkpointRows = run.trace.length;
    void this.enqueue(async () => {
      if (gen !== this.generation || run !== this.run) return;
      const cp = await run.checkpoint();
      if (gen !== this.generation || run !== this.run) return;
      const prev = this.checkpoint?.problem === problem ? this.checkpoint.cp.time_s : null;
      if (prev !== null) this.checkpointInterval_s = Math.max(this.checkpointInterval_s, cp.time_s - prev);
      this.checkpoint = { cp, problem };
    }).catch(() => {});
  }

  /** Destroys the WebGPU device, as a driver reset would lose it (for the tests, and to try it). */
  loseDevice(): boolean {
    if (!this.gpu) return false;
    this.gpu.device.destroy();
    return true;
  }

  /**
   * A fresh overlay canvas. On the WebGPU path a CPU-side 2D canvas (willReadFrequently): drawn on
   * the main thread, so that the overlay never competes with the simulation for the GPU process (on
   * a software adapter, a GPU-accelerated overlay redrawn each frame delayed every readback). Over
   * the regl canvas, the default one (a CPU-side overlay over WebGL showed only the overlay).
   */
  private makeOverlay(cpuSide: boolean): void {
    const canvas = freshCanvas('overlay');
    this.overlay = canvas.getContext('2d', cpuSide ? { willReadFrequently: true } : {}) as CanvasRenderingContext2D;
    this.overlayKey = '';
  }

  private startCpu(why: string, from: LiveCheckpoint | null = null): void {
    this.makeOverlay(false);
    this.path = 'cpu';
    this.pathReason = why;
    // a canvas that had a WebGPU context cannot give a WebGL one: a fresh canvas
    const canvas = freshCanvas('field');
    this.reglView = new ReglFieldView(canvas);
    this.worker = new Worker(new URL('./sim/cpuWorker.ts', import.meta.url), { type: 'module' });
    this.worker.onmessage = (ev) => this.onWorker(ev.data);
    this.worker.onerror = (ev) => this.message(`the CPU worker failed: ${ev.message}`);
    this.banner();
    void this.rebuild(true, from);
  }

  private banner(): void {
    const b = $('banner');
    if (this.path === 'webgpu') {
      b.className = '';
      b.textContent = `Running on WebGPU (${this.adapter}): GpuSolver (WGSL kernels), field drawn from the GPU state buffer by a WebGPU render pass.`;
    } else {
      b.className = 'fallback';
      b.textContent = `CPU fallback: ${this.pathReason}. Running the float32 CPU reference (CpuSolver) in a Web Worker, drawn with ${this.reglView?.kind ?? 'regl (WebGL)'}. A new grid restarts the run from t = 0; other changes go on from the running state.`;
    }
    b.dataset.path = this.path;
  }

  private onWorker(msg: { type: string; message?: string; field?: Float32Array; t?: number; charge?: number; steps?: number; rows?: TraceRow[]; done?: boolean; stepsPerS?: number; budget?: number }): void {
    if (msg.type === 'error') { this.message(msg.message ?? 'the CPU worker failed'); return; }
    if (msg.type !== 'frame') return;
    this.cpuField = msg.field ?? null;
    if (msg.rows?.length) this.cpuTrace.push(...msg.rows);
    const stepsBefore = this.cpuInfo.steps;
    this.cpuInfo = { t: msg.t ?? 0, charge: msg.charge ?? 0, steps: msg.steps ?? 0, done: !!msg.done, stepsPerS: msg.stepsPerS ?? 0, budget: msg.budget ?? 0 };
    if (this.cpuInfo.steps > stepsBefore) this.stepLog.push({ at: performance.now(), steps: this.cpuInfo.steps - stepsBefore });
    this.plots.set(this.cpuTrace, this.state.cutoff);
  }

  // ---------------------------------------------------------------- building and rebuilding

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn);
    this.queue = p.catch(() => {});
    return p;
  }

  /** The problem of the current state, or null (with a message in the page) if it is refused. */
  private async makeProblem(): Promise<Problem | null> {
    try {
      return await buildProblem(resolveConfig(rawConfig(this.state)), { maxCells: DEMO_MAX_CELLS });
    } catch (e) {
      const m = (e as Error).message;
      // the grid-size limit is the demo's own (maxCells); other refusals are the config's
      const limit = /at most ([\d.e+]+) cells are allowed/;
      this.message(limit.test(m) ? m.replace(limit, `at most $1 cells are allowed in the live demo`) : e instanceof ConfigError ? `the settings are not a valid config: ${m}` : m);
      return null;
    }
  }

  /**
   * Applies the state to the simulation: `reset` (or a new grid) starts again from t = 0; otherwise
   * a new problem (wall weights, diffusivity, protocol, cut-off) takes over the current state.
   */
  rebuild(reset: boolean, from: LiveCheckpoint | null = null): Promise<void> {
    return this.enqueue(async () => {
      let problem = await this.makeProblem();
      if (!problem && !this.problem) {
        // nothing runs yet (a bad link): the preset's own values, so that the page never stays blank
        Object.assign(this.state, stateFromPreset(this.state.preset, this.state));
        this.bins = binsFromSegments(this.state.segments);
        this.controls?.refresh();
        this.writeHash();
        problem = await this.makeProblem();
      }
      if (!problem) { this.restoreFrom(this.problem); return; }
      // the same particle on the same grid: the state can carry over (only the walls, D or protocol differ)
      const sameGrid = !!this.problem && this.problem.grid.nx === problem.grid.nx && this.problem.grid.ny === problem.grid.ny && gridKey(this.problem) === gridKey(problem);
      if (this.path === 'cpu') {
        if (!reset && sameGrid && !from) {
          // the worker's run carries its state over into the new problem (as below on the GPU)
          this.problem = problem;
          if (this.cpuInfo.t > 0) this.editedMidRun = true;
          this.worker?.postMessage({ type: 'update', raw: rawConfig(this.state) });
          return;
        }
        this.problem = problem;
        this.layout = layoutFor(problem.grid);
        this.cpuTrace = [];
        this.cpuField = null;
        this.editedMidRun = false;
        this.worker?.postMessage({ type: 'start', raw: rawConfig(this.state), speed: this.state.speed, playing: this.state.playing, budget: this.state.budget, from });
        this.plots.set([], this.state.cutoff);
        return;
      }
      const gpu = this.gpu;
      if (!gpu) { this.message('the WebGPU device is being recovered: change that setting again in a moment'); this.restoreFrom(this.problem); return; }
      let solver: GpuSolver;
      try {
        solver = await GpuSolver.create(gpu, problem);
      } catch (e) {
        this.message((e as Error).message);
        this.restoreFrom(this.problem);
        return;
      }
      if (!reset && sameGrid && this.solver && this.run) {
        // the running state carries over: copy it on the GPU into the new solver
        const a = this.solver.stateBinding(), b = solver.stateBinding();
        const enc = gpu.device.createCommandEncoder({ label: 'demo.copyState' });
        enc.copyBufferToBuffer(a.buffer, a.offset, b.buffer, b.offset, a.size);
        gpu.device.queue.submit([enc.finish()]);
        const old = this.solver;
        this.solver = solver;
        this.problem = problem;
        this.gpuView?.reset();
        if (this.run.t > 0 || this.run.timeNow_s > 0) this.editedMidRun = true;
        this.run.replace(problem, solver);
        old.destroy();
      } else {
        this.solver?.destroy();
        this.gpuView?.reset();
        this.solver = solver;
        this.problem = problem;
        this.layout = layoutFor(problem.grid);
        this.run = new LiveRun(problem, solver);
        this.editedMidRun = false;
        this.stepDebt = 0;
        await this.run.start();
      }
      this.plots.set(this.run.trace, this.state.cutoff);
      this.dirty = true;
      // a new problem: the next frame reads a checkpoint of it (one of the old problem cannot resume it)
      this.checkpointRows = -1;
      this.lastCheckpointAt = -Infinity;
    });
  }

  /** A refused change: the controls go back to the values of the problem that runs. */
  private restoreFrom(problem: Problem | null): void {
    if (!problem) return;
    const c = problem.config;
    const d = c.material.diffusivity as { preset: string; D_m2_s?: number; thetaKnee?: number; log10DHigh?: number; log10DLow?: number };
    Object.assign(this.state, {
      ...shapeFromParticle(c.particle as Record<string, unknown>, this.state), spacing_um: c.grid.spacing_um,
      diffusivity: d.preset, ...(d.D_m2_s ? { log10DConst: Math.log10(d.D_m2_s) } : {}),
      ...(d.preset === 'knee' ? { thetaKnee: d.thetaKnee, log10DHigh: d.log10DHigh, log10DLow: d.log10DLow } : {}), cutoff: c.cutoff.surfaceTheta,
      normalize: c.surface.normalize, segments: c.surface.segments.map((s) => ({ ...s })),
    });
    this.bins = binsFromSegments(this.state.segments);
    this.controls?.refresh();
    this.shapes?.showControls();
    this.writeHash();
  }

  changed(key: keyof DemoState): void {
    this.writeHash();
    if (key === 'speed') { this.worker?.postMessage({ type: 'speed', speed: this.state.speed }); return; }
    if (key === 'view' || key === 'brushEta' || key === 'playing') return;
    if (key === 'segments') this.bins = binsFromSegments(this.state.segments);
    const grid = key === 'diameter_um' || key === 'spacing_um' || key === 'shape';
    void this.rebuild(grid);
  }

  private applyState(s: DemoState): void {
    Object.assign(this.state, s);
    this.bins = binsFromSegments(this.state.segments);
    this.controls?.refresh();
    this.writeHash();
    void this.rebuild(true);
  }

  private setPlaying(on: boolean): void {
    this.state.playing = on;
    this.worker?.postMessage({ type: on ? 'play' : 'pause' });
    this.controls?.refresh();
    this.writeHash();
  }

  private stepOnce(): void {
    if (this.path === 'cpu') { this.worker?.postMessage({ type: 'step' }); return; }
    const run = this.run;
    if (!run) return;
    void this.enqueue(async () => { await run.advance(Math.max(1, Math.round(10 / run.dt_s))); this.dirty = true; this.plots.set(run.trace, this.state.cutoff); });
  }

  private writeHash(): void {
    this.lastHash = encodeHash(this.state);
    history.replaceState(null, '', `#${this.lastHash}`);
  }

  message(text: string): void {
    if (this.messages.includes(text)) return;
    this.messages.push(text);
    const div = document.createElement('div');
    div.className = 'msg';
    div.textContent = text;
    const close = document.createElement('button');
    close.textContent = '×';
    close.onclick = () => { div.remove(); this.messages = this.messages.filter((m) => m !== text); };
    div.appendChild(close);
    $('messages').appendChild(div);
  }

  /**
   * "save view PNG": the field and its overlay as on screen. On the WebGPU path the frame is drawn
   * again and read in this same task (a WebGPU canvas is only readable in the task that drew it).
   */
  private saveViewPng(): void {
    const field = $<HTMLCanvasElement>('field'), overlay = $<HTMLCanvasElement>('overlay');
    if (this.path === 'webgpu' && this.gpuView && this.solver && this.run && this.problem && this.layout) {
      this.gpuView.draw(this.solver, this.layout, this.scale(), this.problem.theta0, this.state.view, this.run.camera, this.problem.config.optics.unreactedThreshold, this.view);
    }
    downloadPng(composeView(field, overlay), 'ionflux-view.png');
  }

  private exportConfig(): void {
    const cfg = this.config();
    if (!cfg) return;
    download('ionflux-config.json', JSON.stringify(cfg, null, 2) + '\n', 'application/json');
  }

  /** the resolved config of the state: `ionflux simulate --config` on it reproduces the run */
  config(): unknown {
    try {
      return resolveConfig(rawConfig(this.state));
    } catch (e) {
      this.message((e as Error).message);
      return null;
    }
  }

  /** The θ field now (a readback on the WebGPU path, in turn with the stepping), for the observed panel's line cut. */
  async fieldNow(): Promise<{ theta: Float32Array; problem: Problem; time_s: number; charge_mAh_g: number } | null> {
    if (this.path === 'cpu') {
      const f = this.cpuField, p = this.problem;
      return f && p && f.length === p.grid.nx * p.grid.ny ? { theta: f, problem: p, time_s: this.cpuInfo.t, charge_mAh_g: this.cpuInfo.charge } : null;
    }
    return this.enqueue(async () => {
      const run = this.run, solver = this.solver, problem = this.problem;
      if (!run || !solver || !problem) return null;
      return { theta: await solver.field(), problem, time_s: run.timeNow_s, charge_mAh_g: run.chargePassed_mAh_g };
    });
  }

  trace(): TraceRow[] {
    return this.path === 'cpu' ? this.cpuTrace : this.run?.trace ?? [];
  }

  // ---------------------------------------------------------------- painting on the rim

  private wirePointer(): void {
    // on the view's box, not a canvas: the canvases are replaced when the path changes
    const canvas = $<HTMLDivElement>('view');
    const pos = (ev: MouseEvent): [number, number] => {
      // inside the box's border: the canvases' own 640×480 area
      const r = canvas.getBoundingClientRect();
      return [((ev.clientX - r.left - canvas.clientLeft) * VIEW_W) / canvas.clientWidth, ((ev.clientY - r.top - canvas.clientTop) * VIEW_H) / canvas.clientHeight];
    };
    const angleAt = (p: [number, number]): { deg: number; nearRim: boolean } | null => {
      if (!this.problem || !this.layout) return null;
      // in screen px, through the view transform: the ring is where the overlay drew it (a uniform
      // zoom keeps angles, so φ is the same as in the layout)
      const c = this.view.toScreen(toPx(this.layout, this.problem.grid.outline.centroid as [number, number]));
      const dx = p[0] - c[0], dy = p[1] - c[1];
      const r = Math.hypot(dx, dy), rr = ringRadiusPx(this.problem.grid, this.layout, this.view.zoom);
      return { deg: ((Math.atan2(-dy, dx) * 180) / Math.PI + 360) % 360, nearRim: Math.abs(r - rr) < 0.3 * rr };
    };
    const panStart = wirePanZoom(canvas, this.view, { pos, panMode: () => this.panMode, changed: () => { this.dirty = true; } });
    canvas.addEventListener('pointerdown', (ev) => {
      if (panStart(ev)) { this.brushAt = null; return; }
      if (ev.button !== 0) return;
      const p = pos(ev), a = angleAt(p);
      if (!a?.nearRim) return;
      const eta = this.state.brushEta;
      if (!(eta >= 0 && eta <= 1)) { this.message(`brush η = ${eta} is outside [0, 1]: 0 = fully blocked, 1 = clean surface`); return; }
      canvas.setPointerCapture(ev.pointerId);
      this.painting = { lastDeg: a.deg };
      paintArc(this.bins, a.deg, a.deg, eta);
      this.brushAt = p;
    });
    canvas.addEventListener('pointermove', (ev) => {
      const p = pos(ev), a = angleAt(p);
      this.brushAt = a?.nearRim || this.painting ? p : null;
      if (!this.painting || !a) return;
      paintArc(this.bins, this.painting.lastDeg, a.deg, this.state.brushEta);
      this.painting.lastDeg = a.deg;
      this.state.segments = segmentsFromBins(this.bins); // the ring shows it at once
    });
    const end = () => {
      if (!this.painting) return;
      this.painting = null;
      this.state.segments = segmentsFromBins(this.bins);
      this.changed('segments');
    };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
    canvas.addEventListener('pointerleave', () => { if (!this.painting) this.brushAt = null; });
  }

  // ---------------------------------------------------------------- the frame loop

  private frame(now: number): void {
    requestAnimationFrame((t) => this.frame(t));
    const dtWall = Math.min(0.1, (now - this.lastFrame) / 1000);
    this.lastFrame = now;
    this.frameCount++;
    this.frames.push(now);
    while (this.frames.length && this.frames[0] < now - 1000) this.frames.shift();
    while (this.stepLog.length && this.stepLog[0].at < now - 1000) this.stepLog.shift();
    if (this.path === 'webgpu') { this.frameGpu(dtWall, now); this.maybeCheckpoint(now); }
    else this.frameCpu();
    this.drawOverlay();
    if (now - this.lastPlot > 250) { this.plots.flush(); this.lastPlot = now; }
  }

  private frameGpu(dtWall: number, now: number): void {
    const run = this.run, solver = this.solver, problem = this.problem;
    if (!run || !solver || !problem || !this.gpuView || !this.layout) return;
    if (this.state.playing && !run.done && now - this.lastFpsCheck > 500) {
      this.lastFpsCheck = now;
      this.stepBudget.observeFps(this.frames.length);
    }
    if (this.state.playing && !run.done && !this.busy) {
      // steps this frame may take: a fixed budget (the URL's budget=, for tests and benchmarks), or
      // as many as fit the frame's GPU time at the measured cost of a step (0: a frame to rest)
      const allowed = this.state.budget > 0 ? this.state.budget : this.stepBudget.steps(now);
      if (allowed > 0) this.budget = allowed;
      this.stepDebt += (this.state.speed * dtWall) / run.dt_s;
      const n = Math.min(allowed, Math.floor(this.stepDebt));
      if (n >= 1) {
        this.stepDebt -= n;
        if (n === allowed) this.stepDebt = 0; // budget-bound: never run up a debt
        this.busy = true;
        const gen = this.generation;
        void this.enqueue(async () => {
          if (gen !== this.generation) return;
          if (run !== this.run) return; // a rebuild queued before this step replaced the run (and destroyed its solver)
          const t0 = performance.now();
          const taken = await run.advance(n);
          const t1 = performance.now();
          this.stepBudget.record(taken, t1 - t0, t1); // submit → completion (the state's readback)
          if (gen !== this.generation) return;
          this.stepLog.push({ at: performance.now(), steps: taken });
          this.dirty = true;
          if (taken) this.plots.set(run.trace, this.state.cutoff);
        }).catch((e) => { if (gen === this.generation) this.message(`stepping failed: ${(e as Error).message}`); }).finally(() => { if (gen === this.generation) this.busy = false; });
      }
    }
    // draw when something changed (steps, a new solver, the view): an idle page costs nothing
    if (!this.dirty && this.drawnView === this.state.view && this.drawnViewVersion === this.view.version) return;
    this.dirty = false;
    this.drawnView = this.state.view;
    this.drawnViewVersion = this.view.version;
    try {
      this.gpuView.draw(solver, this.layout, this.scale(), problem.theta0, this.state.view, run.camera, problem.config.optics.unreactedThreshold, this.view);
      this.draws++;
    } catch (e) {
      this.message(`drawing failed: ${(e as Error).message}`);
    }
  }

  private frameCpu(): void {
    if (!this.reglView || !this.cpuField || !this.layout || !this.problem) return;
    if (this.cpuField.length !== this.layout.nx * this.layout.ny || (this.cpuField === this.cpuDrawn && this.drawnViewVersion === this.view.version)) return;
    this.cpuDrawn = this.cpuField;
    this.drawnViewVersion = this.view.version;
    this.draws++;
    this.reglView.draw(this.cpuField, this.layout, thetaScale(defaultThetaRange(this.problem), this.problem.theta0), this.view);
  }

  private scale(): ColourScale {
    const p = this.problem as Problem;
    const range = defaultThetaRange(p);
    return this.state.view === 'diff' && this.path === 'webgpu' ? diffScale(range, p.theta0, p.config.optics.kappa) : thetaScale(range, p.theta0);
  }

  private drawOverlay(): void {
    if (!this.problem || !this.layout) return;
    const trace = this.trace();
    const cpu = this.path === 'cpu';
    const t = cpu ? this.cpuInfo.t : this.run?.timeNow_s ?? 0;
    const run = this.run;
    const step = this.problem.config.protocol[cpu ? 0 : Math.min(run?.stepIndex ?? 0, this.problem.config.protocol.length - 1)];
    const done = cpu ? this.cpuInfo.done : run?.done;
    const b = this.bench();
    const last = trace[trace.length - 1] ?? null;
    const key = JSON.stringify([t, last?.time_s, this.state.segments, this.brushAt, this.brushAt ? this.state.brushEta : 0, Math.round(performance.now() / 500), this.state.view, this.state.playing, done, this.view.version]);
    if (key === this.overlayKey) return;
    this.overlayKey = key;
    drawOverlay(this.overlay, this.problem.grid, this.layout, this.scale(), {
      time_s: t,
      chargePassed_mAh_g: cpu ? this.cpuInfo.charge : run?.chargePassed_mAh_g ?? 0,
      phase: done ? `done (${cpu ? 'end' : run?.stopReason ?? 'end'})` : step.step === 'rest' ? 'rest' : `${step.step} ${step.current_mA_g} mA/g${this.state.playing ? '' : ' (paused)'}`,
      last: trace[trace.length - 1] ?? null,
      segments: this.state.segments,
      brushEta: this.state.brushEta,
      brushAt: this.brushAt,
      bench: b,
      path: cpu ? 'CPU worker' : 'WebGPU',
    }, this.view);
  }

  bench(): { stepsPerS: number; fps: number; cellUpdatesPerS: number; budget: number } {
    const steps = this.stepLog.reduce((a, s) => a + s.steps, 0);
    const cells = this.problem?.grid.cells ?? 0;
    const stepsPerS = steps; // steps taken in the last second, on either path
    return { stepsPerS, fps: this.frames.length, cellUpdatesPerS: stepsPerS * cells, budget: this.path === 'cpu' ? this.cpuInfo.budget : this.budget };
  }

  /** What the tests read: the page's own numbers. */
  metrics() {
    const cpu = this.path === 'cpu';
    const trace = this.trace();
    const g = this.problem?.grid;
    return {
      path: this.path,
      pathReason: this.pathReason,
      adapter: this.adapter,
      time_s: cpu ? this.cpuInfo.t : this.run?.timeNow_s ?? 0,
      steps: cpu ? this.cpuInfo.steps : this.run?.steps ?? 0,
      done: cpu ? this.cpuInfo.done : this.run?.done ?? false,
      stopReason: cpu ? null : this.run?.stopReason ?? null,
      traceRows: trace.length,
      last: trace[trace.length - 1] ?? null,
      segments: this.state.segments,
      editedMidRun: this.editedMidRun,
      grid: g ? { nx: g.nx, ny: g.ny, spacing_um: g.spacing_um, cells: g.cells, area_um2: g.area_um2 } : null,
      particle: this.problem?.config.particle ?? null,
      layout: this.layout,
      bench: this.bench(),
      frames: this.frameCount,
      draws: this.draws,
      messages: [...this.messages],
      playing: this.state.playing,
      recoveries: this.recoveries,
      resumedFrom_s: this.resumedFrom_s,
      checkpoint_s: this.checkpoint?.cp.time_s ?? null,
      checkpointInterval_s: this.checkpointInterval_s,
      view: { zoom: this.view.zoom, matrix: Array.from(this.view.matrix) },
    };
  }

  /** Page coordinates (CSS px, for a mouse) of the η ring at φ degrees (ccw from +x). */
  ringPoint(deg: number): [number, number] | null {
    if (!this.problem || !this.layout) return null;
    const c = this.view.toScreen(toPx(this.layout, this.problem.grid.outline.centroid as [number, number]));
    const rr = ringRadiusPx(this.problem.grid, this.layout, this.view.zoom);
    const box = $<HTMLDivElement>('view'), r = box.getBoundingClientRect();
    const a = (deg * Math.PI) / 180;
    return [r.left + box.clientLeft + c[0] + rr * Math.cos(a), r.top + box.clientTop + c[1] - rr * Math.sin(a)];
  }

  /** Page coordinates (CSS px) of a physical point (µm, y up) on the view. */
  viewPoint(p: [number, number]): [number, number] | null {
    if (!this.layout) return null;
    const q = this.view.toScreen(toPx(this.layout, p));
    const r = $<HTMLDivElement>('view').getBoundingClientRect();
    return [r.left + (q[0] * r.width) / VIEW_W, r.top + (q[1] * r.height) / VIEW_H];
  }

  /** s(φ) of the state's segments at φ (for tests of the painting) */
  activity(deg: number): number {
    return surfaceActivity(this.state.segments as SurfaceSegment[], deg);
  }
}

function gridKey(p: Problem): string {
  return JSON.stringify([p.config.particle, p.config.grid]);
}

function download(name: string, text: string, type: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

const app = new App();
(window as unknown as { ionfluxDemo: unknown }).ionfluxDemo = {
  metrics: () => app.metrics(),
  trace: () => app.trace(),
  config: () => app.config(),
  state: () => app.state,
  ringPoint: (deg: number) => app.ringPoint(deg),
  activity: (deg: number) => app.activity(deg),
  loseDevice: () => app.loseDevice(),
  /** the observed movie's panel (demo/observed/panel.ts): summary(), trace(id), particlePoint(id), simulate() */
  get observed() { return app.observed?.api(); },
  /** view px → page px of a physical point (µm), for real clicks when drawing a polygon */
  viewPoint: (p: [number, number]) => app.viewPoint(p),
  ready: false,
  /** the app itself, for debugging in the console */
  app,
};
app.boot().then(
  () => { (window as unknown as { ionfluxDemo: { ready: boolean } }).ionfluxDemo.ready = true; },
  (e) => app.message(`the demo failed to start: ${(e as Error).message}`),
);

/** Replaces canvas `id` by a fresh one of the same size (a canvas keeps the first context it gave). */
function freshCanvas(id: string): HTMLCanvasElement {
  const old = $<HTMLCanvasElement>(id);
  const canvas = document.createElement('canvas');
  canvas.id = id;
  canvas.width = old.width;
  canvas.height = old.height;
  old.replaceWith(canvas);
  return canvas;
}
