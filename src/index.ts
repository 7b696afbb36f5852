/// <reference types="@webgpu/types" preserve="true" />
/**
 * The public API of `import … from 'ionflux'` in Node: everything of src/browser.ts (config, the
 * simulation, backends, the forward model, the pure imaging functions) plus what needs the file
 * system — movie and image readers (from files; from bytes is in src/browser.ts), the whole-movie analysis that writes its folder, the capacity
 * file, the output writers (npy, TIFF, PNG, the CLI's simulation folder). Re-exports only.
 */
export * from './browser';

// ---- files in: movies (multi-page TIFF, BigTIFF, PNG/TIFF folders), single images, capacity CSV
export { openMovie, readImage } from './io/movie';
export { readCapacityFile } from './io/capacity';
export { outlineFromMaskFile } from './model/maskOutline';

// ---- the paper's single-particle analysis of a movie (what `ionflux analyze` runs)
export {
  analyzeMovie,
  type AnalyzeOptions, type AnalyzeResult, type AnalyzeSummary, type ParticleResult, type ProcessorFactory,
} from './imaging/analyze';
// what analyze's drift worker thread runs after loading this bundle (src/imaging/driftService.ts)
export { driftWorkerMain } from './imaging/driftService';

// ---- parameter sweeps (docs/sweeps.md): plan, run into a resumable folder, merge shards.
// sweepWorkerMain is what the CPU pool's threads run after loading this bundle.
export {
  planSweep, runSweep, mergeSweeps, estimateWork, sweepPreset, SWEEP_PRESETS, parseSweepSpec, expandSweep, resolveShard, shardRuns, runId,
  SweepSpecError, sweepWorkerMain,
  type SweepPlan, type SweepOptions, type SweepResult, type SweepSpec, type PlannedRun, type RunRecord, type WorkEstimate,
} from './sweep';

// ---- compare and fit (docs/compare.md): a movie's particle as analyze measures it, a simulate
// folder as the simulated side, the fit of a particle's surface blocking, and their folders
export { readObservedParticle } from './compare/observed';
export { loadSimulationFolder, isSimulationFolder, type SimulationFolder } from './compare/simFolder';
export { writeComparisonOutputs, comparisonCsv, comparisonSummary, COMPARISON_COLUMNS } from './compare/output';
export {
  fitSurface, physicalIntervals,
  type FitOptions, type FitResult, type FitEvaluation, type FitJournal, type JournalEntry,
} from './fit/fit';
export { observedOutline, cropCamera, MIN_FIT_PIXELS, type ObservedOutline } from './fit/model';
// a fit's generation on worker threads; fitWorkerMain is what those threads run after loading this bundle
export { cpuPoolBatchRunner, fitPoolAvailable, fitWorkerMain, type PoolBatchRunner } from './fit/pool';
export { bestFitComparison, writeFitOutputs, fitJson, costCsv, fileJournal } from './fit/output';

// ---- files out
export { writeOutputDir, OutputDirError, OUTPUT_MARKER, type OutputOptions, type OutputReport } from './io/output';
export { writeSimulationOutputs, traceCsv, summaryJson } from './io/simulationOutput';
export { writeSynthOutputs, synthCapacityCsv } from './io/synthOutput';
export {
  createTiffStackWriter, writeTiffStack,
  type TiffStackWriter, type TiffStackWriterOptions, type TiffPage, type TiffSampleType, type ImageJMetadata,
} from './io/tiffWrite';
export { encodePng, decodePngGrey } from './render/png';

// ---- the two kinds of error the file side raises (one line each; the CLI prints them as `ionflux: …`);
// the config raises ConfigError, the device GpuUnavailableError (both in every build)
