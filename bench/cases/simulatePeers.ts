/**
 * `simulate-peers` (issue 7): `ionflux simulate --backend cpu` end to end against what a computational
 * scientist would write instead — the same explicit scheme in NumPy, and in Numba when it imports —
 * on the issue's config (the fig4c particle: a 2.4 µm disk, a quarter of the surface blocked with
 * η = 0.3; 5 min of charge at 100 mA/g) at grid spacings 0.02, 0.01 and 0.005 µm (--quick: 0.02 only).
 *
 * The work is made identical, not just alike: the problem is built once by ionflux itself (its mask,
 * wall cells with their flux weights, Kirchhoff Φ̃ table, and the Δt / step count of every output
 * segment, mirrored from runSimulation's schedule) and handed to the peer as .npy files + a JSON. The
 * peer steps ξ = θ0 − θ in float32 (Φ̃ by table lookup with linear interpolation, the 5-point
 * Kirchhoff stencil over inside neighbours, the wall flux added to the wall cells), records the mean θ
 * at each trace time as ionflux does, and writes its final θ field. Its final mean θ must agree with
 * ionflux's summary within 1e-4 (and the field is compared cell by cell) or the row says MISMATCH and
 * carries no figure. The problem build (geometry, table) is NOT in the peer's time: ionflux's is in its
 * own (it is part of its process); the notes say so.
 *
 * Timed per spacing, sample by sample in turn (ionflux, NumPy, Numba, ionflux, …): each as a whole
 * process (node bin/ionflux.js …, python3 peer.py …), plus the inner figures (ionflux's summary
 * wallTime_s = its run loop with outputs; the peer's stepping loop).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { presetConfig, resolveConfig } from '../../src/model/config';
import { buildProblem, maxStableDt, reachableRange, stepParams, type Problem } from '../../src/solver/problem';
import { decodeNpy, encodeNpy } from '../../src/io/npy';
import { findNumpyPython, type BenchCase, type BenchContext, type BenchRow } from '../harness';
import { projectRoot } from './imaging';

/** the issue's config: fig4c's particle and surface, 5 min of charge at 100 mA/g, one snapshot at the end */
export function simulatePeersConfig(spacing_um: number): Record<string, unknown> {
  const raw = presetConfig('fig4c');
  raw.grid = { spacing_um };
  raw.protocol = [{ step: 'charge', current_mA_g: 100, duration_min: 5 }];
  raw.snapshots_min = [5];
  return raw;
}

/** agreement required between the peer's final mean θ and ionflux's */
export const MEAN_THETA_TOLERANCE = 1e-4;

/** Child processes are killed past this (a hung run must not hang the bench). */
const CHILD_TIMEOUT_MS = 20 * 60 * 1000;

interface Segment { n: number; r: number; fluxPerStep: number }

/**
 * The explicit steps runSimulation takes, segment by segment (one per output time: trace rows every
 * traceInterval_s, snapshots, step ends): n = ⌈span/Δt_max⌉ steps of Δt = span/n. Δt_max is the one
 * runSimulation starts with; the bench checks afterwards that ionflux took exactly these steps (a run
 * that widens its θ range re-chooses Δt, and then the peer's work would differ: a MISMATCH row).
 */
function schedule(problem: Problem): Segment[] {
  const cfg = problem.config;
  const dtMax = maxStableDt(problem, reachableRange(problem));
  const every = cfg.output.traceInterval_s;
  const snaps = [...new Set(cfg.snapshots_min.map((m) => m * 60))].sort((a, b) => a - b);
  const segments: Segment[] = [];
  let t = 0, nextTrace = every;
  for (const step of cfg.protocol) {
    const end = t + step.duration_min * 60;
    while (t < end - 1e-9 * Math.max(1, end)) {
      const nextSnap = snaps.find((s) => s > t + 1e-6 * Math.max(1, t)) ?? Infinity;
      const tNext = Math.min(end, nextTrace, nextSnap);
      const span = tNext - t;
      const n = Math.max(1, Math.ceil(span / dtMax - 1e-9));
      const p = stepParams(problem, step, span / n);
      segments.push({ n, r: p.r, fluxPerStep: p.fluxPerStep });
      t = tNext;
      while (nextTrace <= t + 1e-6 * Math.max(1, t)) nextTrace += every;
    }
  }
  return segments;
}

/** Writes the problem the peers read: mask, Φ̃ table, wall cells and weights (.npy), constants (JSON). */
export async function exportProblem(raw: Record<string, unknown>, dir: string): Promise<{ cells: number; nx: number; ny: number; steps: number }> {
  const problem = await buildProblem(resolveConfig(raw));
  const { grid, table } = problem;
  mkdirSync(dir, { recursive: true });
  const f32 = (a: ArrayLike<number>) => Float32Array.from(a);
  writeFileSync(path.join(dir, 'mask.npy'), encodeNpy(f32(grid.inside), [grid.ny, grid.nx]));
  writeFileSync(path.join(dir, 'phi_table.npy'), encodeNpy(table.phi, [table.N + 1]));
  // wall cell indices as float32: exact below 2²⁴ cells (the 0.005 µm grid has 2.3·10⁵)
  writeFileSync(path.join(dir, 'wall_index.npy'), encodeNpy(f32(grid.walls.index), [grid.walls.index.length]));
  writeFileSync(path.join(dir, 'wall_weight.npy'), encodeNpy(grid.walls.fluxWeight, [grid.walls.fluxWeight.length]));
  const segments = schedule(problem);
  writeFileSync(path.join(dir, 'problem.json'), JSON.stringify({ nx: grid.nx, ny: grid.ny, N: table.N, theta0: problem.theta0, cells: grid.cells, segments }));
  return { cells: grid.cells, nx: grid.nx, ny: grid.ny, steps: segments.reduce((a, s) => a + s.n, 0) };
}

/**
 * The peer, as a careful NumPy (or Numba) user would write it. argv: engine (numpy|numba), problem
 * folder, output .npy, max steps per segment (0: all; the Numba warm-up fills the compile cache with 1).
 * Prints JSON: seconds for imports + load, for the stepping loop, the trace of mean θ, the final mean θ.
 */
export const PEER_SCRIPT = String.raw`
import json, sys, time
t_start = time.perf_counter()
import numpy as np
engine, pdir, out_path, max_steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
if engine in ('numba', 'numba2'):
    try:
        import numba
    except Exception as e:
        print(json.dumps({"skipped": "numba not importable (%s); Debian: apt-get install python3-numba" % str(e).split(chr(10))[0][:60]}))
        sys.exit(0)
    numba.set_num_threads(2 if engine == 'numba2' else 1)
P = json.load(open(pdir + '/problem.json'))
f32 = np.float32
mask = np.load(pdir + '/mask.npy') > 0.5
table = np.load(pdir + '/phi_table.npy').astype(f32)
widx = np.load(pdir + '/wall_index.npy').astype(np.int64)
wweight = np.load(pdir + '/wall_weight.npy').astype(np.float64)
ny, nx = mask.shape
N, th0 = int(P['N']), f32(P['theta0'])
m = mask.astype(f32)
nin = np.zeros((ny, nx), f32)  # inside neighbours of each inside cell
nin[1:-1, 1:-1] = (m[:-2, 1:-1] + m[2:, 1:-1] + m[1:-1, :-2] + m[1:-1, 2:]) * m[1:-1, 1:-1]
table0, slope = table[:-1].copy(), np.diff(table).astype(f32)
cells = int(mask.sum())
wr, wc = (widx // nx).astype(np.int64), (widx % nx).astype(np.int64)
xi = np.zeros((ny, nx), f32)  # ξ = θ0 − θ: small numbers, so float32 keeps the updates
t_loaded = time.perf_counter()

if engine == 'numpy':
    # every temporary allocated once; ops in place (out=), as a careful NumPy user would
    x, jf, phi, tab = (np.empty((ny, nx), f32) for _ in range(4))
    j = np.empty((ny, nx), np.int32)
    lap, tmp = np.empty((ny - 2, nx - 2), f32), np.empty((ny - 2, nx - 2), f32)
    nin_c, xi_c, phi_c = nin[1:-1, 1:-1], xi[1:-1, 1:-1], phi[1:-1, 1:-1]
    xi_flat = xi.reshape(-1)
    NF, NM = f32(N), f32(N - 1)
    def run(n, rm_c, dxi):
        # (ufuncs with out= throughout: an augmented assignment would make the buffers local names)
        mul, add, sub = np.multiply, np.add, np.subtract
        for s in range(n):
            # Φ̃(θ) by table lookup with linear interpolation, θ = θ0 − ξ
            sub(th0, xi, out=x); mul(x, NF, out=x)
            np.floor(x, out=jf); np.clip(jf, f32(0), NM, out=jf)
            sub(x, jf, out=x)
            np.copyto(j, jf, casting='unsafe')
            np.take(slope, j, out=phi); mul(phi, x, out=phi)
            np.take(table0, j, out=tab); add(phi, tab, out=phi); mul(phi, m, out=phi)
            # Kirchhoff stencil over inside neighbours: ξ_i −= r Σ_j (Φ̃_j − Φ̃_i)
            add(phi[:-2, 1:-1], phi[2:, 1:-1], out=lap)
            add(lap, phi[1:-1, :-2], out=lap); add(lap, phi[1:-1, 2:], out=lap)
            mul(nin_c, phi_c, out=tmp); sub(lap, tmp, out=lap)
            mul(lap, rm_c, out=lap)
            sub(xi_c, lap, out=xi_c)
            # the wall flux (θ leaving through the surface, weighted by activity)
            xi_flat[widx] += dxi
    state = [xi]
    def segment(n, r, dxi):
        run(n, (f32(r) * m)[1:-1, 1:-1].copy(), dxi)
        return state[0]
elif engine == 'numba2':
    # two threads (prange over rows): a Φ̃ array pass, then the stencil pass, then the wall flux
    @numba.njit(cache=True, parallel=True)
    def run(a, b, n, m, nin, r, table0, slope, N, th0, wr, wc, dxi, phi):
        n0, n1 = a.shape
        for s in range(n):
            for y in numba.prange(n0):
                for x in range(n1):
                    t = (th0 - a[y, x]) * np.float32(N)
                    jj = min(max(int(np.floor(t)), 0), N - 1)
                    phi[y, x] = (table0[jj] + (t - np.float32(jj)) * slope[jj]) * m[y, x]
            for y in numba.prange(1, n0 - 1):
                for x in range(1, n1 - 1):
                    lap = (phi[y - 1, x] + phi[y + 1, x] + phi[y, x - 1] + phi[y, x + 1]) - nin[y, x] * phi[y, x]
                    b[y, x] = a[y, x] - r * m[y, x] * lap
            for w in range(wr.shape[0]):
                b[wr[w], wc[w]] += dxi[w]
            a, b = b, a
        return a, b
    phibuf = np.zeros((ny, nx), f32)
    state = [xi, xi.copy()]
    def segment(n, r, dxi):
        state[0], state[1] = run(state[0], state[1], n, m, nin, f32(r), table0, slope, N, th0, wr, wc, dxi, phibuf)
        return state[0]
else:
    @numba.njit(cache=True)
    def phirow(xi, m, table0, slope, N, th0, y, dst):
        for x in range(xi.shape[1]):
            t = (th0 - xi[y, x]) * np.float32(N)
            jj = min(max(int(np.floor(t)), 0), N - 1)
            dst[x] = (table0[jj] + (t - np.float32(jj)) * slope[jj]) * m[y, x]

    @numba.njit(cache=True)
    def run(a, b, n, m, nin, r, table0, slope, N, th0, wr, wc, dxi, buf):
        # one fused pass per step with a rolling 3-row Φ̃ buffer, then the wall flux; a, b swap
        n0, n1 = a.shape
        for s in range(n):
            phirow(a, m, table0, slope, N, th0, 0, buf[0])
            phirow(a, m, table0, slope, N, th0, 1, buf[1])
            for y in range(1, n0 - 1):
                phirow(a, m, table0, slope, N, th0, y + 1, buf[(y + 1) % 3])
                u = buf[(y - 1) % 3]; c = buf[y % 3]; d = buf[(y + 1) % 3]
                for x in range(1, n1 - 1):
                    lap = (u[x] + d[x] + c[x - 1] + c[x + 1]) - nin[y, x] * c[x]
                    b[y, x] = a[y, x] - r * m[y, x] * lap
            for w in range(wr.shape[0]):
                b[wr[w], wc[w]] += dxi[w]
            a, b = b, a
        return a, b
    buf = np.zeros((3, nx), f32)
    state = [xi, xi.copy()]
    def segment(n, r, dxi):
        state[0], state[1] = run(state[0], state[1], n, m, nin, f32(r), table0, slope, N, th0, wr, wc, dxi, buf)
        return state[0]

trace = []
steps = 0
t0 = time.perf_counter()
for sg in P['segments']:
    n = sg['n'] if max_steps <= 0 else min(max_steps, sg['n'])
    dxi = (sg['fluxPerStep'] * wweight).astype(f32)
    cur = segment(n, sg['r'], dxi)
    steps += n
    trace.append(float(th0) - float(cur.sum(dtype=np.float64)) / cells)  # ξ is 0 outside
step_s = time.perf_counter() - t0
cur = state[0]
theta = np.where(mask, th0 - cur, np.float32(np.nan)).astype(f32)
np.save(out_path, theta)
print(json.dumps({"engine": engine, "version": (np.__version__ if engine == 'numpy' else numba.__version__), "load_s": t_loaded - t_start, "step_s": step_s, "total_s": time.perf_counter() - t_start, "steps": steps, "cells": cells, "meanTheta": trace[-1], "trace": trace}))
`;

interface PeerRun { skipped?: string; load_s?: number; step_s?: number; total_s?: number; process_s?: number; steps?: number; meanTheta?: number; version?: string; field?: Float32Array }

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
const spread = (xs: number[]) => (xs.length > 1 ? `${((100 * (Math.max(...xs) - Math.min(...xs))) / median(xs)).toFixed(0)}%` : '');

/** The python3 for each engine: the first one that imports it (a pyenv python3 may have NumPy, no Numba). */
function peerPython(engine: 'numpy' | 'numba' | 'numba2'): string | null {
  if (engine === 'numpy') return findNumpyPython();
  const candidates = [process.env.IONFLUX_PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean) as string[];
  return candidates.find((e) => spawnSync(e, ['-c', 'import numba, numpy'], { encoding: 'utf8' }).status === 0) ?? findNumpyPython();
}

function runPeer(exe: string, script: string, engine: string, pdir: string, out: string, maxSteps: number, cacheDir: string): PeerRun {
  const t0 = performance.now();
  const r = spawnSync(exe, [script, engine, pdir, out, String(maxSteps)], { encoding: 'utf8', timeout: CHILD_TIMEOUT_MS, maxBuffer: 1 << 24, env: { ...process.env, NUMBA_CACHE_DIR: cacheDir, NUMBA_NUM_THREADS: engine === 'numba2' ? '2' : '1', OMP_NUM_THREADS: '1' } });
  const process_s = (performance.now() - t0) / 1000;
  if (r.status !== 0) return { skipped: `FAILED: ${r.signal ? `killed (${r.signal})` : (r.stderr ?? '').trim().split('\n').pop()}` };
  const res = JSON.parse(r.stdout.trim().split('\n').pop() as string) as PeerRun;
  if (res.skipped) return res;
  return { ...res, process_s, field: decodeNpy(readFileSync(out)).data };
}

interface OursRun { failure?: string; process_s: number; run_s: number; steps: number; meanTheta: number; backend: string; field?: Float32Array }

function runOurs(config: string, out: string): OursRun {
  const bin = path.join(projectRoot(), 'bin', 'ionflux.js');
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [bin, 'simulate', '--config', config, '--backend', 'cpu', '--out', out, '--quiet'], { encoding: 'utf8', timeout: CHILD_TIMEOUT_MS, maxBuffer: 1 << 24 });
  const process_s = (performance.now() - t0) / 1000;
  if (r.status !== 0) return { failure: r.signal ? `killed (${r.signal}) after ${process_s.toFixed(0)} s` : (r.stderr ?? '').trim().split('\n').pop() ?? `exit ${r.status}`, process_s, run_s: NaN, steps: 0, meanTheta: NaN, backend: '' };
  const s = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8'));
  const last = s.snapshots[s.snapshots.length - 1];
  const field = decodeNpy(readFileSync(path.join(out, last.field))).data;
  const bad = s.stopReason !== 'protocol-end' ? `stopped early (${s.stopReason})` : undefined;
  return { failure: bad, process_s, run_s: s.wallTime_s, steps: s.steps, meanTheta: last.meanTheta, backend: s.backend, field };
}

/** max |θ_peer − θ_ionflux| over the particle's cells (NaN outside in both) */
function maxFieldDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) if (!Number.isNaN(a[i])) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

async function simulatePeersRows(ctx: BenchContext): Promise<BenchRow[]> {
  const spacings = ctx.quick ? [0.02] : [0.02, 0.01, 0.005];
  const rows: BenchRow[] = [];
  const caseName = 'simulate-peers (fig4c ¼ blocked η 0.3, 5 min @ 100 mA/g)';
  if (!existsSync(path.join(projectRoot(), 'dist', 'cli.js'))) {
    return [{ id: 'simpeers', case: caseName, backend: '-', size: '-', value: NaN, unit: 's', better: 'lower', note: 'skipped: dist/cli.js missing, run `npm run build` first' }];
  }
  const dir = mkdtempSync(path.join(process.env.IONFLUX_BENCH_DIR ?? os.tmpdir(), 'ionflux-bench-simpeers-'));
  const script = path.join(dir, 'peer.py');
  writeFileSync(script, PEER_SCRIPT);
  const engines = (['numpy', 'numba', 'numba2'] as const).map((engine) => ({ engine, exe: peerPython(engine) }));
  try {
    for (const h of spacings) {
      // more samples where they are cheap; one at 0.005 µm (minutes per run)
      const samples = ctx.quick || h < 0.01 ? 1 : 3;
      const tag = String(h);
      const raw = simulatePeersConfig(h);
      const config = path.join(dir, `config-${tag}.json`);
      writeFileSync(config, JSON.stringify(raw));
      const pdir = path.join(dir, `problem-${tag}`);
      const info = await exportProblem(raw, pdir);
      const size = `${h} µm (${info.nx}×${info.ny}, ${info.cells} cells, ${info.steps} steps)`;
      const id = (b: string) => `simpeers-${tag}-${b}`;
      ctx.log(`simulate-peers ${size}: ${samples} sample(s) each, interleaved`);
      const ours: OursRun[] = [];
      const peers = new Map<string, PeerRun[]>(engines.map((e) => [e.engine, []]));
      const skipped = new Map<string, string>();
      for (const e of engines) {
        if (!e.exe) skipped.set(e.engine, 'skipped: no python3 with NumPy');
        else if (e.engine !== 'numpy') {
          // warm-up: compile once into the cache folder (a Numba user's second run loads it)
          const w = runPeer(e.exe, script, e.engine, pdir, path.join(dir, 'warm.npy'), 1, dir);
          if (w.skipped) skipped.set(e.engine, w.skipped.startsWith('FAILED') ? w.skipped : `skipped: ${w.skipped}`);
        }
      }
      for (let k = 0; k < samples; k++) {
        const out = path.join(dir, `out-${tag}-${k}`);
        ctx.log(`simulate-peers ${h} µm: sample ${k + 1}/${samples}: ionflux simulate --backend cpu`);
        ours.push(runOurs(config, out));
        rmSync(out, { recursive: true, force: true });
        for (const e of engines) {
          if (skipped.has(e.engine) || !e.exe) continue;
          ctx.log(`simulate-peers ${h} µm: sample ${k + 1}/${samples}: ${e.engine} peer`);
          const p = runPeer(e.exe, script, e.engine, pdir, path.join(dir, `peer-${tag}.npy`), 0, dir);
          if (p.skipped) skipped.set(e.engine, p.skipped);
          else (peers.get(e.engine) as PeerRun[]).push(p);
        }
      }
      const failed = ours.find((o) => o.failure);
      const ref = ours[0];
      if (!failed && ref.steps !== info.steps) ref.failure = `ionflux took ${ref.steps} steps, the exported schedule ${info.steps}: the peers' work would differ`;
      const okOurs = !failed && !ref.failure;
      rows.push({
        id: id('ionflux'), case: caseName, backend: 'ionflux cpu', size, value: okOurs ? median(ours.map((o) => o.process_s)) : NaN, unit: 's', better: 'lower', spread: spread(ours.map((o) => o.process_s)),
        ratioTo: [id('numpy'), id('numba'), id('numba2')],
        note: okOurs ? `whole process: node bin/ionflux.js simulate --backend cpu --quiet (${ref.backend}), all outputs; median of ${ours.length}` : `FAILED: ${(failed ?? ref).failure}`,
      });
      rows.push({
        id: id('ionflux-run'), case: caseName, backend: 'ionflux cpu (run loop)', size, value: okOurs ? median(ours.map((o) => o.run_s)) : NaN, unit: 's', better: 'lower', spread: spread(ours.map((o) => o.run_s)),
        ratioTo: [id('numpy-loop'), id('numba-loop'), id('numba2-loop')],
        note: `summary.json wallTime_s: the time loop with its trace rows and snapshot (no start-up, problem build or file writes); final mean θ ${ref.meanTheta}`,
      });
      for (const e of engines) {
        const runs = peers.get(e.engine) as PeerRun[];
        const why = skipped.get(e.engine);
        const label = e.engine === 'numpy' ? 'NumPy' : 'Numba';
        const backend = e.engine === 'numba2' ? 'numba-2t' : e.engine;
        if (why || !runs.length) {
          for (const b of [e.engine, `${e.engine}-loop`]) rows.push({ id: id(b), case: caseName, backend: b === e.engine ? (e.engine === 'numba2' ? 'numba-2t' : e.engine) : `${e.engine === 'numba2' ? 'numba-2t' : e.engine} (loop)`, size, value: NaN, unit: 's', better: 'lower', note: why ?? 'no samples' });
          continue;
        }
        // the work is proven equal: same final mean θ (and field) as ionflux's, same number of steps
        const p = runs[0];
        const dMean = Math.abs((p.meanTheta as number) - ref.meanTheta);
        const dField = okOurs && ref.field && p.field ? maxFieldDiff(p.field, ref.field) : NaN;
        const mismatch = !okOurs ? 'ionflux failed: nothing to compare with' : p.steps !== info.steps ? `the peer took ${p.steps} steps, ionflux ${info.steps}` : !(dMean <= MEAN_THETA_TOLERANCE) ? `final mean θ ${p.meanTheta} differs from ionflux's ${ref.meanTheta} by ${dMean.toExponential(2)} (> ${MEAN_THETA_TOLERANCE})` : '';
        const check = `final mean θ ${(p.meanTheta as number).toFixed(7)} (|Δ| vs ionflux ${dMean.toExponential(1)}), max |Δθ| over the field ${dField.toExponential(1)}`;
        const what = e.engine === 'numpy' ? 'NumPy float32, vectorised, in-place ops and preallocated temporaries'
          : e.engine === 'numba' ? 'Numba @njit float32, one fused pass per step (rolling 3-row Φ̃ buffer), 1 thread, compile cache warm'
            : 'Numba @njit(parallel) float32, prange over rows: Φ̃ pass then stencil pass, 2 threads, compile cache warm';
        rows.push({
          id: id(e.engine), case: caseName, backend, size, value: mismatch ? NaN : median(runs.map((r) => r.process_s as number)), unit: 's', better: 'lower', spread: spread(runs.map((r) => r.process_s as number)),
          note: mismatch ? `MISMATCH: ${mismatch}` : `whole process: ${e.exe} peer (${label} ${p.version}: ${what}); imports + load ${median(runs.map((r) => r.load_s as number)).toFixed(2)} s; problem build by ionflux not counted; ${check}; median of ${runs.length}`,
        });
        rows.push({
          id: id(`${e.engine}-loop`), case: caseName, backend: `${backend} (loop)`, size, value: mismatch ? NaN : median(runs.map((r) => r.step_s as number)), unit: 's', better: 'lower', spread: spread(runs.map((r) => r.step_s as number)),
          note: mismatch ? `MISMATCH: ${mismatch}` : `the peer's stepping loop with its mean-θ trace (${info.steps} steps)`,
        });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export const simulatePeersCases: BenchCase[] = [{ name: 'simulate-peers', run: simulatePeersRows }];
