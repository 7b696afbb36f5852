/**
 * How many steps the page may submit per animation frame so that it keeps drawing ≥ 30 frames/s
 * while it simulates. On a software adapter (SwiftShader) the steps run on the same CPU cores as
 * the compositor: a submit of 20 steps there took ~1 s on a loaded 2-core machine and held every
 * frame that long (the page drew 3–6 frames/s). Two measurements set the budget:
 * - what a step costs, from GPU completion (the advance's readback resolving: the queue has done
 *   the work): the first budget is what fits FRAME_GPU_MS, and an advance that took longer than
 *   LONG_ADVANCE_MS cuts the budget at once in proportion (the machine got busy: never a frozen page);
 * - the page's own frame rate, twice a second: under TARGET_FPS + 3 fewer steps per advance (and,
 *   at one step, a rest after each advance — the GPU left idle for restFactor × the advance's time,
 *   so that frames get through between steps); over TARGET_FPS + 10, less rest, then more steps,
 *   so that the simulation gets what the frame rate leaves.
 * On a real GPU a step costs microseconds and the cap MAX_STEPS is what binds.
 */
export const FRAME_GPU_MS = 12;
export const LONG_ADVANCE_MS = 250;
export const MAX_STEPS = 4096;
export const TARGET_FPS = 30;

export class StepBudget {
  /** smoothed wall ms per step, from submit to completion (NaN before the first measurement) */
  msPerStep = NaN;
  /** steps per advance */
  n = 1;
  /** idle time after an advance, as a multiple of its duration (0: step every frame) */
  restFactor = 0;
  private restUntil = 0;
  private measured = false;

  /** steps to submit now; 0 = let this frame go by without stepping */
  steps(now: number): number {
    return now < this.restUntil ? 0 : this.n;
  }

  /** An advance of `steps` steps took `ms` from its submit to its completion, ending at `now`. */
  record(steps: number, ms: number, now: number): void {
    if (steps < 1 || !(ms >= 0)) return;
    const per = ms / steps;
    this.msPerStep = this.msPerStep > 0 ? 0.7 * this.msPerStep + 0.3 * per : per;
    if (!this.measured) {
      this.measured = true;
      this.n = clampSteps(FRAME_GPU_MS / per);
    } else if (ms > LONG_ADVANCE_MS && this.n > 1) {
      this.n = clampSteps((this.n * LONG_ADVANCE_MS) / ms);
    }
    this.restUntil = now + this.restFactor * ms;
  }

  /** The page's frames in the last second (call about twice a second while it simulates). */
  observeFps(fps: number): void {
    if (fps < TARGET_FPS + 3) {
      if (this.n > 1) this.n = clampSteps(this.n * 0.7);
      else this.restFactor = Math.min(8, Math.max(0.25, this.restFactor * 1.5));
    } else if (fps > TARGET_FPS + 10) {
      if (this.restFactor > 0) this.restFactor = this.restFactor < 0.2 ? 0 : this.restFactor * 0.7;
      else this.n = clampSteps(this.n * 1.25 + 1);
    }
  }
}

const clampSteps = (n: number) => Math.max(1, Math.min(MAX_STEPS, Math.floor(n)));
