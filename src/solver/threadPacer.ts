/**
 * Two threads only while they have two cores: whether the CPU step (cpuWasm.ts WasmStepper) hands
 * chunks to its helper thread.
 *
 * Why: the two threads hand over every step (~25 µs at fig4c's 122²), so they need a core each.
 * When other work keeps a core busy — another simulation, a sweep's jobs, a test suite, a browser —
 * the two share one: the main thread finishes its chunk and waits while the helper, with a chunk
 * claimed, is off the CPU, and then the other way round. Measured on the 2-core VM with one
 * busy-loop process beside it: 80–160 µs per step on two threads against 46 µs on one
 * (docs/performance.md, "When the other core is busy").
 *
 * How: the main thread measures, over windows of steps (at least `minSteps` steps and `window_ms`),
 * how much CPU the process got per second of wall time. Two threads that each have a core use ~2 s
 * per s (both spin while they wait for each other, which is short); two threads sharing one core get
 * ~1. `strikes` windows in a row below `minCores` in which the helper took a chunk start a spell on
 * one thread (one such window alone is a hiccup: early in a run, while the helper warms up, a
 * window can dip to ~1.4 on a quiet machine): the helper gets no steps and sleeps. After the spell
 * (`minSpell_ms`, doubled after each retry that finds the cores still busy, up to `maxSpell_ms`;
 * back to the shortest after one that finds two) two threads are tried again, judged on their
 * first window. A window in which the helper took no chunk (still
 * booting, or off the CPU before it claimed one: the main thread did them all and waited for
 * nothing) is not judged, and a pause between steps (trace rows, outputs: over `maxGap_ms`)
 * starts a new window, so that the window holds steps only.
 * How the rows are split between the threads does not change a single integer (the chunk tests of
 * test/solver/cpuWasm.test.ts), so neither does this.
 *
 * Speed, too: the CPU test is calibrated on 2 cores. Where the scheduler shares the CPU per thread
 * across N cores, two threads sharing one core read 2N/(N+1) CPU-seconds per second (1.6 on 4 cores),
 * which the CPU test misses. So the windows also time the steps: the spells time one thread's, and
 * where no spell came for `probeEvery_ms` (or PROBE_SPACING times the last probe's length, if more)
 * a window on one thread is a probe (on machines with more than 2 cores only, where the CPU test can
 * miss: a probe costs a window at one thread's speed). One thread is timed over its steps' own
 * durations, so that bursts of steps between trace rows add up to a window. A window on two threads
 * is also low when its steps are not `margin` faster than one thread's, timed within the last two
 * probe intervals (or two maxSpell_ms, if more).
 *
 * Bookkeeping on the clocks it is given (ms), so that its decisions are tested on made-up clocks
 * (test/solver/threadPacer.test.ts) and the wiring on a real helper thread.
 */
export interface PacerSettings {
  minSteps: number;
  window_ms: number;
  /** CPU-seconds per second below which two threads are taken to share a core */
  minCores: number;
  /** windows in a row below minCores that start a spell */
  strikes: number;
  minSpell_ms: number;
  maxSpell_ms: number;
  maxGap_ms: number;
  /** a window on one thread (a probe) when none was timed for this long; 0: no probes */
  probeEvery_ms: number;
  /** how much faster than one thread's steps two threads' must be */
  margin: number;
}

export const PACER_DEFAULTS: PacerSettings = { minSteps: 32, window_ms: 20, minCores: 1.3, strikes: 2, minSpell_ms: 50, maxSpell_ms: 2000, maxGap_ms: 2, probeEvery_ms: 0, margin: 0.1 };

/**
 * A probe costs a window at one thread's speed (≥ minSteps steps and window_ms): the next one waits
 * at least this many times its one-thread time, so that probes take ~2 % of a run however long a
 * step is (0.5 ms steps: every second; 40 ms steps, whose 32-step probe takes 1.3 s: every minute).
 */
export const PROBE_SPACING = 50;

/** The defaults on a machine of `cores` cores: probes where the CPU test can miss a shared core (more than 2). */
export function pacerSettings(cores: number): PacerSettings {
  return { ...PACER_DEFAULTS, probeEvery_ms: cores > 2 ? 1000 : 0 };
}

/** The process's CPU time (all threads), ms (Node; elsewhere there is no helper thread to pace). */
export function processCpu_ms(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export class ThreadPacer {
  /** steps taken on one thread because two did not have two cores (or were not faster), over the pacer's life */
  soloSteps = 0;
  /** steps taken on one thread to time it (probes) */
  probeSteps = 0;
  /** spells on one thread begun */
  spells = 0;
  /** CPU-seconds per second of the last judged window (NaN before one) */
  lastCores = NaN;
  /** ms per step of the last timed window on one thread, and on two (NaN before one) */
  soloStep_ms = NaN;
  togetherStep_ms = NaN;
  private soloAt = -Infinity;
  private solo = false;
  private probing = false;
  /** one-thread time of the last probe, ms: the next one waits at least PROBE_SPACING times as long */
  private probeCost = 0;
  private until = 0;
  private spell: number;
  /** judged windows in a row below minCores */
  private low = 0;
  private first = NaN;
  // the current two-thread window: since the end of its first step (a pause starts a new one, since
  // the CPU clock runs on through it)
  private steps = 0;
  private theirs = 0;
  private start = 0;
  private busy = 0;
  private cpu0 = 0;
  private last = -Infinity;
  // the current one-thread timing: the steps' own durations, pauses between them left out
  private aloneSteps = 0;
  private aloneBusy = 0;

  constructor(private readonly cpu_ms: () => number = processCpu_ms, private readonly s: PacerSettings = PACER_DEFAULTS) {
    this.spell = s.minSpell_ms;
  }

  /** How long after one thread was last timed the next probe comes, and how long that timing counts (half of it). */
  private probeInterval(): number {
    return Math.max(this.s.probeEvery_ms, PROBE_SPACING * this.probeCost);
  }

  /** Whether the step about to start at `now` (ms) is offered to the helper. */
  useHelper(now: number): boolean {
    if (Number.isNaN(this.first)) this.first = now;
    if (this.solo && now >= this.until) {
      this.solo = false;
      this.steps = 0;
      this.low = this.s.strikes - 1; // a retry: its first window decides
    }
    if (!this.solo && !this.probing && this.s.probeEvery_ms > 0 && now - Math.max(this.first, this.soloAt) >= this.probeInterval()) {
      this.probing = true;
      this.steps = 0;
      this.aloneSteps = 0;
      this.aloneBusy = 0;
    }
    return !this.solo && !this.probing;
  }

  /** A step on this thread alone (useHelper said no) from `begin` to `end` (ms). */
  stepAlone(begin: number, end: number): void {
    if (this.probing) this.probeSteps++;
    else this.soloSteps++;
    // timed over the steps themselves: bursts of steps between trace rows still make a window
    this.aloneSteps++;
    this.aloneBusy += end - begin;
    if (this.aloneSteps < this.s.minSteps || this.aloneBusy < this.s.window_ms) return;
    this.soloStep_ms = this.aloneBusy / this.aloneSteps;
    this.soloAt = end;
    if (this.probing) this.probeCost = this.aloneBusy;
    this.probing = false;
    this.aloneSteps = 0;
    this.aloneBusy = 0;
  }

  /** A step offered to the helper began at `begin` and ended at `end` (ms); the helper did `theirs` of its chunks. */
  stepTogether(begin: number, end: number, theirs: number): void {
    this.aloneSteps = 0;
    this.aloneBusy = 0;
    if (this.steps === 0 || begin - this.last > this.s.maxGap_ms) {
      // a new window, from the end of this step
      this.steps = 1;
      this.theirs = 0;
      this.busy = 0;
      this.start = end;
      this.cpu0 = this.cpu_ms();
      this.last = end;
      return;
    }
    this.steps++;
    this.theirs += theirs;
    this.busy += end - begin;
    this.last = end;
    if (this.steps < this.s.minSteps || end - this.start < this.s.window_ms) return;
    if (this.theirs > 0) {
      this.lastCores = (this.cpu_ms() - this.cpu0) / (end - this.start);
      this.togetherStep_ms = this.busy / (this.steps - 1);
      // one thread's steps, timed recently: two must be faster by the margin
      const fresh = end - this.soloAt <= 2 * Math.max(this.probeInterval(), this.s.maxSpell_ms);
      const slow = fresh && this.togetherStep_ms > (1 - this.s.margin) * this.soloStep_ms;
      if (this.lastCores >= this.s.minCores && !slow) {
        this.low = 0;
        this.spell = this.s.minSpell_ms;
      } else if (++this.low >= this.s.strikes) {
        this.solo = true;
        this.until = end + this.spell;
        this.spell = Math.min(2 * this.spell, this.s.maxSpell_ms);
        this.spells++;
      }
    }
    this.steps = 0;
  }

  /** Whether the steps now run on one thread. */
  get alone(): boolean {
    return this.solo;
  }
}
