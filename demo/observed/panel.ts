/**
 * The observed movie beside the simulation (issue 10 item 5). Drop an ImageJ TIFF stack on the page
 * (or choose it, with a capacity CSV in `analyze --capacity`'s format) and it is analysed in the
 * browser with `ionflux analyze`'s own code (analyse.ts), in a Web Worker (inWorker.ts) so that the
 * simulation keeps running meanwhile, with a progress bar and a Cancel button. The panel shows
 *   - the observed ΔI/I0 frame with every particle outlined and numbered, at the simulation's charge
 *     passed (with a capacity record) or its time — or at a frame picked with the slider;
 *   - for the particle clicked: its ΔI/I0 movie (its crop, the line cut drawn across it), the
 *     line-cut kymographs of the observed particle and of the simulation along the same line (the
 *     observed line of `analyze`, through the particle's COM in the direction of its largest offset;
 *     the same angle through the simulated particle's COM on the forward model's camera image), and
 *     the mean ΔI/I0 of both against charge passed (or time);
 *   - "simulate this particle": its segmented mask, at the movie's pixel size, becomes the simulated
 *     shape (demo/ui/shapes.ts) and the simulation restarts on it.
 * Everything measured is the library's: the kymograph lines are src/imaging/kymograph.ts's, the
 * simulated camera image src/optics/forward.ts's.
 */
import uPlot from 'uplot';
import {
  createCamera, forwardModel, lineThroughParticle, particleTable, sampleLine,
  type Camera, type LineCut, type Problem,
} from '../../src/browser';
import type { CapacityRecord } from '../../src/io/capacityCsv';
import type { TraceRow } from '../sim/liveRun';
import { lut } from '../render/layout';
import type { ShapeTools } from '../ui/shapes';
import { matchFrame, parseCapacity, type ObservedMovie } from './analyse';
import { AnalysisCancelled, analyseInWorker, type AnalysisJob } from './inWorker';

export interface ObservedHost {
  message(text: string): void;
  /** the simulation now: time, charge passed, its trace */
  simNow(): { time_s: number; charge_mAh_g: number; trace: TraceRow[] };
  /** the simulated θ field now (a readback), or null while nothing runs */
  fieldNow(): Promise<{ theta: Float32Array; problem: Problem; time_s: number; charge_mAh_g: number } | null>;
  shapes: ShapeTools;
}

/** one row of the simulated kymograph */
interface SimRow { time_s: number; charge_mAh_g: number; row: Float32Array }

const FRAME_W = 400, FRAME_H = 260, CROP = 180, KYMO_W = 196, KYMO_H = 150;
const NAN_RGBA = 0xff999999;

const el = <K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> & { id?: string; className?: string } = {}, parent?: HTMLElement): HTMLElementTagNameMap[K] => {
  const e = Object.assign(document.createElement(tag), props);
  parent?.appendChild(e);
  return e;
};

export class ObservedPanel {
  movie: ObservedMovie | null = null;
  /** the movie file being analysed or shown (a capacity file dropped later re-runs the analysis on it) */
  private movieFile: { name: string; file: Blob } | null = null;
  /** the file of the movie shown, which stays when an analysis fails or is cancelled */
  private shownFile: { name: string; file: Blob } | null = null;
  /** the analysis running in its worker, if any */
  private job: AnalysisJob | null = null;
  progress: { fraction: number; status: string } | null = null;
  cancelled = 0;
  private capacity: CapacityRecord | null = null;
  selected: number | null = null;
  /** the observed frame shown; follows the simulation unless the slider was moved */
  frame = 0;
  follow = true;
  match: { frame: number; by: 'charge' | 'time'; beyond: boolean } | null = null;
  busy = false;
  lastError: string | null = null;
  warnings: string[] = [];
  simRows: SimRow[] = [];
  private simLine: { problem: Problem; camera: Camera; line: LineCut; labels: Int32Array } | null = null;
  private sampling = false;
  private readonly status: HTMLElement;
  private readonly progressRow: HTMLElement;
  private readonly progressBar: HTMLProgressElement;
  private readonly progressText: HTMLElement;
  private readonly frameCanvas: HTMLCanvasElement;
  private readonly crop: HTMLCanvasElement;
  private readonly kymoObs: HTMLCanvasElement;
  private readonly kymoSim: HTMLCanvasElement;
  private readonly scrub: HTMLInputElement;
  private readonly followBox: HTMLInputElement;
  private readonly particleBox: HTMLElement;
  private readonly info: HTMLElement;
  private readonly fileInput: HTMLInputElement;
  private plot: uPlot | null = null;
  private readonly plotHost: HTMLElement;
  private drawnKey = '';
  /** the frame canvas's transform: image px → canvas px */
  private fit = { scale: 1, x0: 0, y0: 0 };
  /** what drawFrame drew last, kept: on a 1024² movie the colour map and the outlines (a walk over
   *  every pixel) take tens of ms of the main thread, and the frame is redrawn at every trace row */
  private frameImage: { movie: ObservedMovie; frame: number; canvas: HTMLCanvasElement } | null = null;
  private outlines: { movie: ObservedMovie; selLabel: number; paths: [Path2D, Path2D] } | null = null;

  constructor(host: HTMLElement, private readonly app: ObservedHost) {
    const drop = el('div', { id: 'drop-zone', className: 'drop' }, host);
    drop.append('Drop an ImageJ TIFF stack here (with its capacity CSV, or a mask PNG for the shape), or ');
    this.fileInput = el('input', { type: 'file', multiple: true, id: 'observed-file', accept: '.tif,.tiff,.csv,.png,image/tiff,text/csv,image/png' });
    this.fileInput.hidden = true;
    drop.appendChild(this.fileInput);
    const choose = el('button', { textContent: 'choose files…', id: 'observed-choose' }, drop);
    choose.onclick = () => this.fileInput.click();
    this.fileInput.onchange = () => { void this.takeFiles(Array.from(this.fileInput.files ?? [])); this.fileInput.value = ''; };
    this.status = el('div', { id: 'observed-status', className: 'status', textContent: 'No observed movie yet.' }, host);
    this.progressRow = el('div', { id: 'observed-progress-row', className: 'row' }, host);
    this.progressRow.hidden = true;
    this.progressBar = el('progress', { id: 'observed-progress', max: 1, value: 0 }, this.progressRow);
    this.progressText = el('span', { id: 'observed-progress-text' }, this.progressRow);
    el('button', { id: 'observed-cancel', textContent: 'Cancel' }, this.progressRow).onclick = () => this.cancel();
    this.frameCanvas = el('canvas', { id: 'observed-frame', width: FRAME_W, height: FRAME_H }, host);
    this.frameCanvas.addEventListener('click', (ev) => this.onFrameClick(ev));
    const row = el('div', { className: 'row' }, host);
    this.scrub = el('input', { type: 'range', id: 'observed-scrub', min: '0', max: '0', value: '0' }, row);
    this.scrub.oninput = () => { this.follow = false; this.followBox.checked = false; this.frame = Number(this.scrub.value); };
    const lab = el('label', {}, row);
    this.followBox = el('input', { type: 'checkbox', checked: true, id: 'observed-follow' }, lab);
    lab.append(' at the simulation\'s charge / time');
    this.followBox.onchange = () => { this.follow = this.followBox.checked; };
    this.particleBox = el('div', { id: 'observed-particle' }, host);
    this.particleBox.hidden = true;
    const top = el('div', { className: 'row' }, this.particleBox);
    this.crop = el('canvas', { id: 'observed-crop', width: CROP, height: CROP }, top);
    const side = el('div', { className: 'side' }, top);
    this.info = el('div', { className: 'info' }, side);
    const sim = el('button', { id: 'simulate-particle', textContent: 'Simulate this particle' }, side);
    sim.onclick = () => this.simulateSelected();
    const kymos = el('div', { className: 'row' }, this.particleBox);
    this.kymoObs = el('canvas', { id: 'kymo-observed', width: KYMO_W, height: KYMO_H }, kymos);
    this.kymoSim = el('canvas', { id: 'kymo-simulated', width: KYMO_W, height: KYMO_H }, kymos);
    this.plotHost = el('div', { id: 'observed-plot' }, this.particleBox);

    // files dropped anywhere on the page
    addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over'); });
    addEventListener('dragleave', () => drop.classList.remove('over'));
    addEventListener('drop', (ev) => {
      ev.preventDefault();
      drop.classList.remove('over');
      const files = Array.from(ev.dataTransfer?.files ?? []);
      if (files.length) void this.takeFiles(files);
    });
    // the simulated line cut: a readback of the field, at most once a second (it queues with the
    // stepping: on SwiftShader a readback costs about as much as a frame's steps)
    setInterval(() => { void this.sampleSimulation(); }, 1000);
    const tick = () => { this.draw(); requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  }

  // ---------------------------------------------------------------- input

  /** Files dropped or chosen: a capacity CSV first, then a TIFF movie, and a PNG as the shape's mask. */
  async takeFiles(files: File[]): Promise<void> {
    const isCsv = (f: File) => /\.csv$/i.test(f.name) || f.type === 'text/csv';
    const isMask = (f: File) => /\.png$/i.test(f.name) || f.type === 'image/png' || f.type === 'image/jpeg';
    for (const f of files.filter(isCsv)) {
      try {
        this.capacity = parseCapacity(f.name, await f.text());
      } catch (e) {
        this.fail(`capacity file: ${(e as Error).message}`);
        return;
      }
    }
    for (const f of files.filter(isMask)) await this.app.shapes.loadMaskFile(f);
    const movies = files.filter((f) => !isCsv(f) && !isMask(f));
    if (movies.length > 1) this.app.message(`${movies.length} movies were dropped: analysing ${movies[0].name} only`);
    if (movies.length) {
      this.movieFile = { name: movies[0].name, file: movies[0] };
      await this.analyse();
    } else if (this.capacity && this.movieFile && files.some(isCsv)) {
      await this.analyse(); // a capacity file for the movie already shown
    }
  }

  private fail(text: string): void {
    this.lastError = text;
    this.app.message(text);
    this.status.textContent = this.movie ? `${text} — still showing ${this.movie.name}.` : text;
    this.status.classList.add('error');
  }

  /** Stops the running analysis (its worker terminated); the movie shown before stays. */
  cancel(): void {
    this.job?.cancel();
  }

  private async analyse(): Promise<void> {
    const file = this.movieFile!;
    // a movie dropped while another is analysed replaces that analysis
    this.job?.cancel();
    this.busy = true;
    this.lastError = null;
    this.status.classList.remove('error');
    this.status.textContent = `Analysing ${file.name} with ionflux analyze's code (in a Web Worker)…`;
    this.showProgress(0, 'starting');
    const job = analyseInWorker(file.name, file.file, this.capacity, (f, s) => { if (this.job === job) this.showProgress(f, s); });
    this.job = job;
    try {
      const { movie, warnings } = await job.result;
      this.movie = movie;
      this.shownFile = file;
      this.warnings = warnings;
      for (const w of warnings) this.app.message(`${file.name}: ${w}`);
      this.selected = movie.core.particles.length ? movie.core.particles[0].particle.id : null;
      this.simRows = [];
      this.simLine = null;
      this.frame = 0;
      this.scrub.max = String(movie.frames - 1);
      const c = movie.core;
      this.status.textContent = `${movie.name}: ${movie.width}×${movie.height} px × ${movie.frames} frames, ${c.pixel_um} µm/px (${c.pixelSource}), ${c.frame_s} s/frame (${c.frameSource}); ` +
        `${c.particles.length} particle(s)${movie.capacityName ? `; capacity from ${movie.capacityName}` : ''}; analysed in ${(movie.analysis_ms / 1000).toFixed(1)} s. Click a particle.`;
      this.plot?.destroy();
      this.plot = null;
    } catch (e) {
      if (this.job !== job) return; // replaced by a newer drop: that one reports
      this.movieFile = this.shownFile;
      if (e instanceof AnalysisCancelled) {
        this.cancelled++;
        this.app.message(e.message);
        this.status.textContent = this.movie ? `${e.message} — still showing ${this.movie.name}.` : `${e.message}.`;
      } else {
        this.fail(`the movie ${file.name} could not be analysed: ${(e as Error).message}`);
      }
    } finally {
      if (this.job === job) {
        this.job = null;
        this.busy = false;
        this.progress = null;
        this.progressRow.hidden = true;
        this.drawnKey = '';
      }
    }
  }

  private showProgress(fraction: number, status: string): void {
    this.progress = { fraction, status };
    this.progressRow.hidden = false;
    this.progressBar.value = fraction;
    this.progressText.textContent = ` ${(100 * fraction).toFixed(0)} % · ${status} `;
  }

  private particleIndex(id: number | null): number {
    return this.movie && id !== null ? this.movie.core.particles.findIndex((r) => r.particle.id === id) : -1;
  }

  private onFrameClick(ev: MouseEvent): void {
    const m = this.movie;
    if (!m) return;
    const r = this.frameCanvas.getBoundingClientRect();
    const x = ((ev.clientX - r.left) * FRAME_W) / r.width, y = ((ev.clientY - r.top) * FRAME_H) / r.height;
    const col = Math.floor((x - this.fit.x0) / this.fit.scale), row = Math.floor((y - this.fit.y0) / this.fit.scale);
    const labels = m.core.segmentation.labels;
    let label = col >= 0 && row >= 0 && col < m.width && row < m.height ? labels[row * m.width + col] : 0;
    if (!label) {
      // a click beside a small particle: the nearest centroid within 12 canvas px
      let best = 12;
      for (const p of m.core.particles) {
        const d = Math.hypot(this.fit.x0 + p.particle.centroid_px[0] * this.fit.scale - x, this.fit.y0 + p.particle.centroid_px[1] * this.fit.scale - y);
        if (d < best) { best = d; label = p.particle.label; }
      }
    }
    const hit = m.core.particles.find((p) => p.particle.label === label);
    if (!hit) return;
    this.selected = hit.particle.id;
    this.simRows = [];
    this.simLine = null;
    this.plot?.destroy();
    this.plot = null;
    this.drawnKey = '';
  }

  /** "Simulate this particle": its segmented mask at the movie's pixel size becomes the simulated shape. */
  simulateSelected(): boolean {
    const m = this.movie, p = this.particleIndex(this.selected);
    if (!m || p < 0) { this.app.message('click a particle of the observed movie first'); return false; }
    const part = m.core.particles[p].particle;
    // the whole frame's mask of this particle, traced as `particle.shape = "mask"` traces a mask
    // image of it: the same arithmetic, so the same vertices (a crop would shift them by a rounding)
    const labels = m.core.segmentation.labels;
    const mask = Uint8Array.from(labels, (l) => (l === part.label ? 1 : 0));
    const ok = this.app.shapes.setMask(mask, m.width, m.height, m.core.pixel_um, `observed particle ${part.id} of ${m.name}`);
    if (ok) { this.simRows = []; this.simLine = null; }
    return ok;
  }

  // ---------------------------------------------------------------- the simulated line cut

  /** Samples the simulation's forward-model ΔI/I0 along the observed particle's line angle, once per trace row. */
  private async sampleSimulation(): Promise<void> {
    const m = this.movie, p = this.particleIndex(this.selected);
    if (!m || p < 0 || this.sampling) return;
    const sim = this.app.simNow();
    const last = this.simRows[this.simRows.length - 1];
    if (last && sim.time_s < last.time_s - 1e-9) { this.simRows = []; } // the simulation restarted
    const lastTrace = sim.trace[sim.trace.length - 1];
    if (last && (!lastTrace || lastTrace.time_s <= last.time_s + 1e-9)) return; // nothing new
    const line = m.core.particles[p].line;
    if (!line) return;
    this.sampling = true;
    try {
      const now = await this.app.fieldNow();
      if (!now) return;
      if (!this.simLine || this.simLine.problem !== now.problem) {
        const camera = createCamera(now.problem.grid, now.problem.config.optics);
        const labels = Int32Array.from(camera.mask);
        const part = particleTable(labels, camera.width, camera.height, 1, camera.pixel_um)[0];
        if (!part || !(part.area_px > 0)) return;
        this.simLine = { problem: now.problem, camera, labels, line: lineThroughParticle(part, labels, camera.width, camera.height, line.angleDeg) };
      }
      const img = forwardModel(now.theta, this.simLine.camera, now.problem.theta0);
      const row = sampleLine(img.diff, img.width, img.height, this.simLine.line);
      const prev = this.simRows[this.simRows.length - 1];
      if (!prev || now.time_s > prev.time_s + 1e-9) this.simRows.push({ time_s: now.time_s, charge_mAh_g: now.charge_mAh_g, row });
    } finally {
      this.sampling = false;
    }
  }

  // ---------------------------------------------------------------- drawing

  private draw(): void {
    const m = this.movie;
    if (!m) return;
    const sim = this.app.simNow();
    this.match = matchFrame(m, sim.time_s, sim.charge_mAh_g);
    if (this.follow) { this.frame = this.match.frame; this.scrub.value = String(this.frame); }
    const key = JSON.stringify([this.frame, this.selected, this.simRows.length, m.name, m.frames, sim.trace.length]);
    if (key === this.drawnKey) return;
    this.drawnKey = key;
    this.drawFrame(m);
    const p = this.particleIndex(this.selected);
    this.particleBox.hidden = p < 0;
    if (p >= 0) this.drawParticle(m, p, sim.trace);
  }

  /** field → RGBA with the diverging map at ±range (NaN grey) */
  private image(field: ArrayLike<number>, w: number, h: number, range: number): HTMLCanvasElement {
    const colours = lut({ vmin: -range, vmax: range, center: 0, reversed: false, label: 'ΔI/I0' });
    const c = document.createElement('canvas');
    c.width = w; c.height = h;
    const ctx = c.getContext('2d') as CanvasRenderingContext2D;
    const img = ctx.createImageData(w, h);
    const out = new Uint32Array(img.data.buffer);
    for (let i = 0; i < w * h; i++) {
      const v = field[i];
      out[i] = Number.isFinite(v) ? colours[Math.max(0, Math.min(255, Math.round(((v + range) / (2 * range)) * 255)))] : NAN_RGBA;
    }
    ctx.putImageData(img, 0, 0);
    return c;
  }

  private drawFrame(m: ObservedMovie): void {
    const ctx = this.frameCanvas.getContext('2d') as CanvasRenderingContext2D;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, FRAME_W, FRAME_H);
    const scale = Math.min(FRAME_W / m.width, (FRAME_H - 18) / m.height);
    this.fit = { scale, x0: (FRAME_W - m.width * scale) / 2, y0: 18 + (FRAME_H - 18 - m.height * scale) / 2 };
    ctx.imageSmoothingEnabled = false;
    if (this.frameImage?.movie !== m || this.frameImage.frame !== this.frame) {
      this.frameImage = { movie: m, frame: this.frame, canvas: this.image(m.pages[this.frame], m.width, m.height, m.range) };
    }
    ctx.drawImage(this.frameImage.canvas, this.fit.x0, this.fit.y0, m.width * scale, m.height * scale);
    // outlines along the label boundaries, the selected particle in yellow, ids at the centroids
    const sel = this.particleIndex(this.selected);
    const selLabel = sel >= 0 ? m.core.particles[sel].particle.label : -1;
    if (this.outlines?.movie !== m || this.outlines.selLabel !== selLabel) this.outlines = { movie: m, selLabel, paths: this.outlinePaths(m, selLabel) };
    for (const pass of [0, 1]) {
      ctx.strokeStyle = pass ? '#ffd400' : '#000';
      ctx.lineWidth = pass ? 2 : 1.2;
      ctx.stroke(this.outlines.paths[pass]);
    }
    ctx.font = 'bold 12px system-ui, sans-serif';
    ctx.textAlign = 'center';
    for (const r of m.core.particles) {
      const x = this.fit.x0 + r.particle.centroid_px[0] * scale, y = this.fit.y0 + r.particle.centroid_px[1] * scale;
      ctx.fillStyle = '#fff';
      ctx.fillText(String(r.particle.id), x + 1, y + 5);
      ctx.fillStyle = '#000';
      ctx.fillText(String(r.particle.id), x, y + 4);
    }
    ctx.textAlign = 'left';
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = '#000';
    const c = m.core, cap = c.capacityAtFrames?.capacity_mAh_g[this.frame];
    const how = this.follow && this.match ? `at the simulation's ${this.match.by}${this.match.beyond ? ' (movie ended)' : ''}` : 'picked';
    ctx.fillText(`ΔI/I0 · frame ${this.frame} · ${fmtTime(c.times_s[this.frame])}${cap !== undefined && Number.isFinite(cap) ? ` · ${cap.toFixed(1)} mAh/g` : ''} · ${how}`, 4, 13);
  }

  /** the label boundaries on the frame canvas: [the other particles, the selected one] */
  private outlinePaths(m: ObservedMovie, selLabel: number): [Path2D, Path2D] {
    const labels = m.core.segmentation.labels;
    const { scale, x0, y0 } = this.fit;
    const paths: [Path2D, Path2D] = [new Path2D(), new Path2D()];
    for (let r = 0; r < m.height; r++) for (let c = 0; c < m.width; c++) {
      const l = labels[r * m.width + c];
      if (!l) continue;
      const path = paths[l === selLabel ? 1 : 0];
      const x = x0 + c * scale, y = y0 + r * scale;
      if (c === 0 || labels[r * m.width + c - 1] !== l) { path.moveTo(x, y); path.lineTo(x, y + scale); }
      if (c === m.width - 1 || labels[r * m.width + c + 1] !== l) { path.moveTo(x + scale, y); path.lineTo(x + scale, y + scale); }
      if (r === 0 || labels[(r - 1) * m.width + c] !== l) { path.moveTo(x, y); path.lineTo(x + scale, y); }
      if (r === m.height - 1 || labels[(r + 1) * m.width + c] !== l) { path.moveTo(x, y + scale); path.lineTo(x + scale, y + scale); }
    }
    return paths;
  }

  private drawParticle(m: ObservedMovie, p: number, trace: TraceRow[]): void {
    const res = m.core.particles[p], part = res.particle;
    // the crop: the particle's box plus a margin, scaled to the canvas, with the line cut
    const margin = 4;
    const c0 = Math.max(0, part.bbox.col0 - margin), r0 = Math.max(0, part.bbox.row0 - margin);
    const c1 = Math.min(m.width, part.bbox.col1 + margin), r1 = Math.min(m.height, part.bbox.row1 + margin);
    const w = c1 - c0, h = r1 - r0;
    const page = m.pages[this.frame];
    const crop = new Float32Array(w * h);
    for (let r = 0; r < h; r++) crop.set(page.subarray((r0 + r) * m.width + c0, (r0 + r) * m.width + c1), r * w);
    const ctx = this.crop.getContext('2d') as CanvasRenderingContext2D;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, CROP, CROP);
    const s = Math.min(CROP / w, CROP / h);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.image(crop, w, h, m.range), 0, 0, w * s, h * s);
    if (res.line) {
      ctx.strokeStyle = '#000';
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      ctx.moveTo((res.line.start_px[0] - c0) * s, (res.line.start_px[1] - r0) * s);
      ctx.lineTo((res.line.end_px[0] - c0) * s, (res.line.end_px[1] - r0) * s);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    ctx.fillStyle = '#000';
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillText(`particle ${part.id}, frame ${this.frame}`, 3, CROP - 4);
    const cls = res.classification.asymmetric === null ? 'not classified' : res.classification.asymmetric ? 'asymmetric' : 'symmetric';
    const d = res.comOffset_um[this.frame];
    this.info.textContent = `Particle ${part.id}: ${part.area_um2.toFixed(2)} µm², R_eq ${part.eqRadius_um.toFixed(2)} µm, ${cls}. ` +
      `Frame ${this.frame}: mean ΔI/I0 ${fmt(res.meanDiff[this.frame])}, d ${d === null ? '–' : `${d.toFixed(3)} µm`}, unreacted ${fmt(res.unreactedFraction[this.frame])}. ` +
      `Line at ${res.line?.angleDeg ?? '–'}°.`;
    this.drawKymographs(m, p);
    this.drawPlot(m, p, trace);
  }

  /** both kymographs on one vertical axis: charge passed (with a capacity record) or time */
  private drawKymographs(m: ObservedMovie, p: number): void {
    const res = m.core.particles[p];
    const rows = m.core.kymoRows[p];
    const byCharge = this.match?.by === 'charge';
    const obsKey = byCharge ? m.core.capacityAtFrames!.capacity_mAh_g : m.core.times_s.map((t) => t - m.core.times_s[0]);
    const simKey = this.simRows.map((r) => (byCharge ? r.charge_mAh_g : r.time_s));
    const all = [...obsKey, ...simKey].filter((v) => Number.isFinite(v));
    const lo = Math.min(0, ...all), hi = Math.max(lo + 1e-9, ...all);
    const unit = byCharge ? 'mAh/g' : 'min';
    const label = (v: number) => (byCharge ? v.toFixed(0) : (v / 60).toFixed(1));
    const panel = (canvas: HTMLCanvasElement, title: string, data: Float32Array[], keys: number[], mark: number | null) => {
      const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, KYMO_W, KYMO_H);
      ctx.fillStyle = '#000';
      ctx.font = '11px system-ui, sans-serif';
      ctx.fillText(title, 2, 11);
      const top = 16, left = 34, H = KYMO_H - top - 14, W = KYMO_W - left - 2;
      ctx.fillText(label(lo), 2, top + 8);
      ctx.fillText(label(hi), 2, top + H);
      ctx.fillText(`${unit} ↓ · along the line →`, left, KYMO_H - 2);
      ctx.strokeStyle = '#999';
      ctx.strokeRect(left - 0.5, top - 0.5, W + 1, H + 1);
      if (!data.length) { ctx.fillText('(waiting for the simulation)', left + 4, top + H / 2); return; }
      const n = data[0].length;
      const y = (v: number) => top + ((v - lo) / (hi - lo)) * H;
      data.forEach((row, k) => {
        const y0 = y(keys[k]), y1 = k + 1 < data.length ? y(keys[k + 1]) : Math.min(top + H, y0 + Math.max(1, H / Math.max(data.length, 2)));
        if (!Number.isFinite(y0)) return;
        ctx.imageSmoothingEnabled = false;
        ctx.drawImage(this.image(row, n, 1, m.range), left, y0, W, Math.max(1, y1 - y0));
      });
      if (mark !== null && Number.isFinite(mark)) {
        ctx.strokeStyle = '#000';
        ctx.beginPath();
        ctx.moveTo(left - 4, y(mark)); ctx.lineTo(left + W + 2, y(mark));
        ctx.stroke();
      }
    };
    panel(this.kymoObs, `observed, line at ${res.line?.angleDeg ?? '–'}°`, rows, obsKey, obsKey[this.frame]);
    const sim = this.app.simNow();
    panel(this.kymoSim, 'simulated, same line', this.simRows.map((r) => r.row), simKey, byCharge ? sim.charge_mAh_g : sim.time_s);
  }

  /** mean ΔI/I0 of the observed particle and of the simulation against charge passed (or time) */
  private drawPlot(m: ObservedMovie, p: number, trace: TraceRow[]): void {
    const res = m.core.particles[p];
    const byCharge = this.match?.by === 'charge';
    const ox = byCharge ? m.core.capacityAtFrames!.capacity_mAh_g : m.core.times_s.map((t) => (t - m.core.times_s[0]) / 60);
    const sx = trace.map((r) => (byCharge ? r.chargePassed_mAh_g : r.time_s / 60));
    const clean = (x: number[], y: number[]) => {
      const k = x.map((_, i) => i).filter((i) => Number.isFinite(x[i])).sort((a, b) => x[a] - x[b]);
      return [k.map((i) => x[i]), k.map((i) => (Number.isFinite(y[i]) ? y[i] : (null as unknown as number)))];
    };
    const obs = clean(ox, res.meanDiff), sim = clean(sx, trace.map((r) => r.meanDiff));
    const data = uPlot.join([obs as uPlot.AlignedData, sim as uPlot.AlignedData]);
    if (!this.plot) {
      this.plot = new uPlot({
        title: `mean ΔI/I0: observed particle ${res.particle.id} and the simulation`, width: 400, height: 170,
        scales: { x: { time: false } },
        series: [{ label: byCharge ? 'Q (mAh/g)' : 't (min)' }, { label: 'observed', stroke: '#b2182b', spanGaps: true }, { label: 'simulated', stroke: '#2166ac', spanGaps: true }],
        axes: [{ label: byCharge ? 'charge passed (mAh/g)' : 't (min)', size: 32 }, { label: 'ΔI/I0', size: 44 }],
        legend: { show: true, live: false },
        cursor: { show: false },
      }, data, this.plotHost);
    } else this.plot.setData(data);
  }

  // ---------------------------------------------------------------- what the tests read

  api() {
    return {
      summary: () => {
        const m = this.movie;
        return {
          busy: this.busy,
          lastError: this.lastError,
          name: m?.name ?? null,
          frames: m?.frames ?? 0,
          width: m?.width ?? 0,
          height: m?.height ?? 0,
          pixel_um: m?.core.pixel_um ?? null,
          frame_s: m?.core.frame_s ?? null,
          capacity: m?.capacityName ?? null,
          analysis_ms: m?.analysis_ms ?? null,
          thread: m?.thread ?? null,
          progress: this.progress ? { ...this.progress } : null,
          progressShown: getComputedStyle(this.progressRow).display !== 'none',
          cancelled: this.cancelled,
          status: this.status.textContent,
          particles: m ? m.core.particles.map((r) => ({ id: r.particle.id, label: r.particle.label, area_px: r.particle.area_px, area_um2: r.particle.area_um2, centroid_um: r.particle.centroid_um, asymmetric: r.classification.asymmetric, lineAngleDeg: r.line?.angleDeg ?? null })) : [],
          selected: this.selected,
          frame: this.frame,
          match: this.match,
          observedKymoRows: m && this.selected !== null ? m.core.kymoRows[this.particleIndex(this.selected)]?.length ?? 0 : 0,
          simulatedKymoRows: this.simRows.length,
          warnings: [...this.warnings],
        };
      },
      trace: (id: number) => {
        const r = this.movie?.core.particles.find((x) => x.particle.id === id);
        return r ? { meanDiff: r.meanDiff, comOffset_um: r.comOffset_um, comOffsetRel: r.comOffsetRel, unreactedFraction: r.unreactedFraction, times_s: this.movie!.core.times_s, capacity_mAh_g: this.movie!.core.capacityAtFrames?.capacity_mAh_g ?? null } : null;
      },
      /** page coordinates (CSS px) of particle `id`'s centroid on the observed frame, for a real click */
      particlePoint: (id: number): [number, number] | null => {
        const r = this.movie?.core.particles.find((x) => x.particle.id === id);
        if (!r) return null;
        const b = this.frameCanvas.getBoundingClientRect();
        return [b.left + ((this.fit.x0 + r.particle.centroid_px[0] * this.fit.scale) * b.width) / FRAME_W, b.top + ((this.fit.y0 + r.particle.centroid_px[1] * this.fit.scale) * b.height) / FRAME_H];
      },
      simulate: () => this.simulateSelected(),
      cancel: () => this.cancel(),
    };
  }
}

function fmt(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(3);
}

function fmtTime(t: number): string {
  return t >= 120 ? `${(t / 60).toFixed(1)} min` : `${t.toFixed(0)} s`;
}
