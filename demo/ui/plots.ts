/**
 * The live plots (uPlot: small, fast, canvas-drawn, maintained; ~50 kB): capacity and mean ΔI/I0
 * against time, the COM offset d against charge passed (the paper's Fig. 5d), the minimum surface θ
 * with the cut-off line, and the unreacted fraction. `csv()` gives the trace the plots show.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { TraceRow } from '../sim/liveRun';
import { composeChart, downloadPng } from './exportPng';

const W = 300, H = 170;

export class Plots {
  private readonly charts: uPlot[] = [];
  private rows: TraceRow[] = [];
  private cutoff = 0.2;
  private dirty = false;

  constructor(host: HTMLElement) {
    const base = (title: string, xLabel: string, series: uPlot.Series[], scales: uPlot.Scales = {}, axes: uPlot.Axis[] = []): uPlot.Options => ({
      title, width: W, height: H,
      scales: { x: { time: false }, ...scales },
      series: [{ label: xLabel }, ...series],
      axes: [{ label: xLabel, size: 32, labelSize: 14 }, ...axes],
      legend: { show: true, live: false },
      cursor: { show: false },
    });
    const empty = (n: number) => Array.from({ length: n + 1 }, () => [] as number[]) as uPlot.AlignedData;
    const add = (opts: uPlot.Options, n: number, id: string) => {
      const div = document.createElement('div');
      div.className = 'plot';
      div.dataset.plot = id;
      host.appendChild(div);
      const chart = new uPlot(opts, empty(n), div);
      this.charts.push(chart);
      const save = document.createElement('button');
      save.type = 'button';
      save.className = 'save';
      save.textContent = 'save PNG';
      save.onclick = () => { this.flush(); downloadPng(composeChart(chart, opts.title ?? id, opts.series), `ionflux-${id}.png`); };
      div.appendChild(save);
    };
    add(base('capacity and mean ΔI/I0', 't (min)', [
      { label: 'capacity (mAh/g)', stroke: '#b2182b', scale: 'cap' },
      { label: 'mean ΔI/I0', stroke: '#2166ac', scale: 'diff' },
    ], { cap: { auto: true }, diff: { auto: true } }, [{ scale: 'cap', label: 'mAh/g', size: 44 }, { scale: 'diff', side: 1, label: 'ΔI/I0', size: 56, grid: { show: false } }]), 2, 'capacity');
    add(base('COM offset d vs charge passed', 'Q (mAh/g)', [{ label: 'd (µm)', stroke: '#000', scale: 'd' }], { d: { auto: true, range: (_u, lo, hi) => [0, Math.max(0.05, hi ?? lo)] } }, [{ scale: 'd', label: 'd (µm)', size: 44 }]), 1, 'offset');
    add(base('min surface θ and the cut-off', 't (min)', [
      { label: 'min θs', stroke: '#b2182b', scale: 'th' },
      { label: 'cut-off', stroke: '#666', dash: [6, 4], scale: 'th' },
    ], { th: { auto: false, range: [0, 1] } }, [{ scale: 'th', label: 'θs', size: 44 }]), 2, 'surface');
    add(base('unreacted fraction', 't (min)', [{ label: 'unreacted', stroke: '#2166ac', scale: 'f' }], { f: { auto: false, range: [0, 1] } }, [{ scale: 'f', label: 'fraction', size: 44 }]), 1, 'unreacted');
  }

  set(rows: TraceRow[], cutoff: number): void {
    this.rows = rows;
    this.cutoff = cutoff;
    this.dirty = true;
  }

  /** redraws when new rows came in (called a few times a second, not every frame) */
  flush(): void {
    if (!this.dirty) return;
    this.dirty = false;
    const r = this.rows;
    const t = r.map((x) => x.time_s / 60);
    const nul = (v: number | null) => (v === null ? (null as unknown as number) : v);
    this.charts[0].setData([t, r.map((x) => x.capacity_mAh_g), r.map((x) => x.meanDiff)]);
    this.charts[1].setData([r.map((x) => x.chargePassed_mAh_g), r.map((x) => nul(x.comOffset_um))]);
    this.charts[2].setData([t, r.map((x) => x.minSurfaceTheta), r.map(() => this.cutoff)]);
    this.charts[3].setData([t, r.map((x) => x.unreactedFraction)]);
  }
}

export const CSV_HEADER = 'time_s,capacity_mAh_g,chargePassed_mAh_g,meanTheta,minSurfaceTheta,comOffset_um,comOffsetRel,unreactedFraction,meanDiff';

/** The trace as CSV (the columns of `ionflux simulate`'s trace.csv, plus charge passed and mean ΔI/I0). */
export function traceCsv(rows: TraceRow[]): string {
  const f = (v: number | null) => (v === null || Number.isNaN(v) ? '' : String(Number(v.toPrecision(9))));
  return [CSV_HEADER, ...rows.map((r) => [r.time_s, r.capacity_mAh_g, r.chargePassed_mAh_g, r.meanTheta, r.minSurfaceTheta, r.comOffset_um, r.comOffsetRel, r.unreactedFraction, r.meanDiff].map(f).join(','))].join('\n') + '\n';
}
