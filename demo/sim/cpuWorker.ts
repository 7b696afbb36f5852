/**
 * The fallback path's worker: the float32 CPU reference (CpuSolver, src/solver/cpu.ts) driven by the
 * same LiveRun as the WebGPU path, off the page's main thread. It steps in slices of ~25 ms, at the
 * speed asked for, and posts the θ field and the new trace rows after each slice.
 *
 * In:  { type: 'start', raw, speed, playing, budget, from? } (from: a LiveCheckpoint of the same config,
 *        e.g. the WebGPU run's last read-back state after a lost device: the run goes on from it)
 *      | { type: 'update', raw } (a change that keeps the grid — current, η, cut-off, D, protocol:
 *        the running state carries over into the new problem, as on the WebGPU path; the time goes on)
 *      | { type: 'play' | 'pause' | 'step' } | { type: 'speed', speed }
 * Out: { type: 'frame', field, t, charge, steps, rows, done, stepsPerS, dt } | { type: 'error', message }
 */
import { buildProblem, CpuSolver, resolveConfig } from '../../src/browser';
import { LiveRun, type LiveCheckpoint } from './liveRun';
import { DEMO_MAX_CELLS } from './limits';

let run: LiveRun | null = null;
let playing = false;
let speed = 60;
let generation = 0;
let sent = 0;
let budget = 50;
/** a fixed budget from the page (0 = adapt the slice to ~25 ms) */
let fixedBudget = 0;

/** the run is touched by one task at a time (a slice of steps, an update, a step, a restart) */
let chain: Promise<unknown> = Promise.resolve();
function exclusive<T>(fn: () => Promise<T>): Promise<T> {
  const p = chain.then(fn);
  chain = p.catch(() => {});
  return p;
}

const post = (msg: unknown, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(msg, transfer);

async function send(stepsPerS: number): Promise<void> {
  if (!run) return;
  const field = await run.solver.field();
  const rows = run.trace.slice(sent);
  sent = run.trace.length;
  post({ type: 'frame', field, t: run.timeNow_s, charge: run.chargePassed_mAh_g, steps: run.steps, rows, done: run.done, stepsPerS, dt: run.dt_s, budget }, [field.buffer]);
}

async function loop(gen: number): Promise<void> {
  let last = performance.now();
  while (gen === generation && run) {
    if (!playing || run.done) { await new Promise((r) => setTimeout(r, 50)); last = performance.now(); continue; }
    const now = performance.now();
    // at most `speed` simulated seconds per wall second: steps this slice may take
    const allowed = Math.max(1, Math.floor((speed * Math.min(0.1, (now - last) / 1000 + 0.025)) / run.dt_s));
    last = now;
    const r = run;
    const t0 = performance.now();
    const n = await exclusive(() => (gen === generation ? r.advance(Math.min(budget, allowed)) : Promise.resolve(0)));
    const ms = performance.now() - t0;
    if (gen !== generation) break;
    // keep a slice near 25 ms so that pause / speed changes answer at once
    if (fixedBudget > 0) budget = fixedBudget;
    else if (n >= budget) budget = ms > 30 ? Math.max(1, Math.floor(budget * 0.7)) : ms < 15 ? Math.ceil(budget * 1.3) : budget;
    await send(ms > 0 ? (n / ms) * 1000 : 0);
    await new Promise((r) => setTimeout(r, 0));
  }
}

self.onmessage = async (ev: MessageEvent) => {
  const msg = ev.data as { type: string; raw?: Record<string, unknown>; speed?: number; playing?: boolean; budget?: number; from?: LiveCheckpoint };
  try {
    if (msg.type === 'start') {
      generation++;
      await exclusive(async () => { run?.solver.destroy(); run = null; });
      const problem = await buildProblem(resolveConfig(msg.raw as Record<string, unknown>), { maxCells: DEMO_MAX_CELLS });
      if (msg.from) {
        run = LiveRun.resume(problem, new CpuSolver(problem), msg.from);
      } else {
        run = new LiveRun(problem, new CpuSolver(problem));
        await run.start();
      }
      sent = 0;
      speed = msg.speed ?? speed;
      playing = msg.playing ?? true;
      fixedBudget = msg.budget ?? 0;
      if (fixedBudget > 0) budget = fixedBudget;
      await send(0);
      void loop(generation);
    } else if (msg.type === 'update' && run) {
      // between two slices of steps (exclusive), never inside one
      const problem = await buildProblem(resolveConfig(msg.raw as Record<string, unknown>), { maxCells: DEMO_MAX_CELLS });
      await exclusive(async () => {
        if (!run) return;
        const solver = new CpuSolver(problem);
        solver.writeState(await run.solver.readState());
        const old = run.solver;
        run.replace(problem, solver);
        old.destroy();
        await send(0);
      });
    } else if (msg.type === 'play') playing = true;
    else if (msg.type === 'pause') playing = false;
    else if (msg.type === 'speed') speed = msg.speed ?? speed;
    else if (msg.type === 'step' && run) {
      const r = run;
      await exclusive(async () => { await r.advance(Math.max(1, Math.round(10 / r.dt_s))); await send(0); });
    }
  } catch (e) {
    post({ type: 'error', message: (e as Error).message ?? String(e) });
  }
};
