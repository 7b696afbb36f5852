/**
 * Runs a list of problems (one optimiser generation) as one batch: on the GPU as the lanes of one
 * GpuBatch (same-grid problems stepped by the same dispatches, each lane driven by its own
 * runSimulation, all concurrently), on the CPU one after the other on the CPU reference. A run the
 * surface cannot carry (SimulationLimitError) is a result, not a failure: its slot holds the error.
 */
import type { GpuContext } from '../gpu/device';
import { CpuSolver } from '../solver/cpu';
import { GpuBatch } from '../solver/gpu';
import type { Problem } from '../solver/problem';
import { runSimulation, SimulationLimitError, type RunResult } from '../solver/run';

export type BatchOutcome = { ok: true; result: RunResult } | { ok: false; reason: string };

export interface BatchRunner {
  /** e.g. "gpu batch (nvidia …)" or "cpu (one after the other)" */
  readonly label: string;
  run(problems: Problem[], signal?: AbortSignal): Promise<BatchOutcome[]>;
}

async function one(problem: Problem, solver: import('../solver/types').Solver, signal?: AbortSignal): Promise<BatchOutcome> {
  try {
    return { ok: true, result: await runSimulation(problem, solver, { signal }) };
  } catch (e) {
    if (e instanceof SimulationLimitError) return { ok: false, reason: e.message };
    throw e;
  } finally {
    solver.destroy();
  }
}

export function cpuBatchRunner(): BatchRunner {
  return {
    label: 'cpu (TypeScript reference, candidates one after the other)',
    async run(problems, signal) {
      const out: BatchOutcome[] = [];
      for (const p of problems) out.push(await one(p, await CpuSolver.create(p), signal));
      return out;
    },
  };
}

/**
 * Up to what the adapter holds per batch (GpuBatch.maxLanes within `memory_bytes`, at most
 * `maxLanes`), lanes of one GpuBatch. `maxLanes` 1: one candidate at a time (the bench's baseline).
 */
export function gpuBatchRunner(gpu: GpuContext, memory_bytes = 2 ** 30, maxLanes = Infinity): BatchRunner {
  return {
    label: maxLanes === 1 ? `gpu (${gpu.report.name}; candidates one at a time)` : `gpu batch (${gpu.report.name}; each generation one GpuBatch)`,
    async run(problems, signal) {
      const out: BatchOutcome[] = new Array(problems.length);
      // same-shape problems only in one batch (a fit's candidates share the particle's grid)
      const groups = new Map<string, number[]>();
      problems.forEach((p, i) => { const k = `${p.grid.nx}x${p.grid.ny}`; groups.set(k, [...(groups.get(k) ?? []), i]); });
      for (const idx of groups.values()) {
        const cap = Math.max(1, Math.min(maxLanes, GpuBatch.maxLanes(gpu, problems[idx[0]], memory_bytes)));
        for (let s = 0; s < idx.length; s += cap) {
          const chunk = idx.slice(s, s + cap);
          const batch = await GpuBatch.create(gpu, chunk.map((i) => problems[i]));
          const settled = await Promise.allSettled(chunk.map((i, k) => one(problems[i], batch.lanes[k], signal)));
          settled.forEach((r, k) => { if (r.status === 'fulfilled') out[chunk[k]] = r.value; });
          const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
          if (failed) throw failed.reason;
        }
      }
      return out;
    },
  };
}
