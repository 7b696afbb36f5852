/// <reference types="@webgpu/types" preserve="true" />
/**
 * The part of the library that runs anywhere, a browser included: config, the simulation on the GPU
 * (navigator.gpu in a browser, Dawn in Node) or the CPU reference, the optical forward model and the
 * pure imaging functions on arrays. Nothing here reads or writes files. `import … from 'ionflux'`
 * resolves here in a browser bundle (the package's "browser" export condition), and
 * `'ionflux/browser'` names it explicitly; in Node, 'ionflux' (src/index.ts) adds the file readers,
 * writers and the whole-movie analysis on top. Re-exports only: the code lives in its own modules.
 */

// ---- config (SPEC §3)
export {
  resolveConfig, presetConfig, applySet, PRESETS, OPTICS_PRESETS, SYNTH_DEFAULTS, ConfigError, configSchema,
  type SimulationConfig, type ProtocolStep, type OpticsPresetName,
} from './model/config';
export type { SurfaceSegment, FluxNormalization } from './model/surface';
export { diffusivityFunction, kirchhoffTable, KNEE_DEFAULTS, type DiffusivitySpec, type KirchhoffTable } from './model/diffusivity';
export { diskOutline, ellipseOutline, polygonOutline, type Outline, type Vec2 } from './model/geometry';
export type { ParticleGrid, WallCells } from './model/grid';

// ---- the error classes: bad input is a UserError (ConfigError, SweepSpecError … below it), a fault of
// the machine an EnvironmentError; anything else is a bug
export { UserError, EnvironmentError } from './errors';

// ---- the simulation
export {
  buildProblem, createSolver, runSimulation, measureField, CpuSolver, GpuBatch, GpuSolver, SimulationLimitError,
  type ConservationCheck,
  type Problem, type StepParams, type RunResult, type Snapshot, type Measurement, type Solver, type FieldStats,
} from './solver';
export type { RunOptions, StepRecord } from './solver/run';
// how many explicit steps a run takes (× grid.cells: its cell-updates), before running it
export { estimatedSteps } from './solver/problem';
export type { AdvanceResult } from './solver/types';

// ---- backend choice and the WebGPU device
export { selectBackend, parseBackend, BACKENDS, type Backend, type BackendRequest } from './gpu/backend';
export { acquireGpu, describeAdapter, GpuUnavailableError, type GpuContext, type AdapterReport } from './gpu/device';

// ---- the optical forward model θ → camera frame (SPEC §2)
export { createCamera, forwardModel, intensityImage, type Camera, type CameraImage, type CameraLayout, type OpticsParams } from './optics/forward';

// ---- synthetic movies (`ionflux synth`, docs/synth.md): particles in a field of view, simulated, seen
// through the forward model and a camera with shot and read noise; no files (writeSynthOutputs in 'ionflux')
export {
  synthesizeMovie, prepareSynth, synthCamera, renderParticleFrames,
  type SynthMovie, type SynthTruth, type SynthTruthParticle, type SynthesizeOptions, type PreparedSynth,
} from './synth/movie';
export { resolveSynthConfig, mergeConfig, type SynthSetup, type SynthSettings, type SynthParticleSetup } from './synth/config';
export { createSynthScene, type SynthScene, type SynthCamera, type SceneParticleInput, type PlacedParticle, type ParticleMeasurement } from './synth/scene';
export { exposeFrame, smoothTexture, blurImage, type SensorNoise } from './optics/sensor';
export { createRandom, type Random } from './optics/random';

// ---- imaging: one pure function per operation, on arrays (row-major, width·height)
export {
  diffMapCpu, prepareReference, labelReduceCpu, labelMetrics, boxMeanNanAware, LABEL_STATS_STRIDE, LabelStat,
  type FrameData, type DiffMapOptions, type PreparedReference, type LabelMetrics,
} from './imaging/diffmap';
export {
  segmentParticles, segmentFromMask, otsuThreshold, labelComponents, fillHoles, particleTable, gaussianBlur,
  type Segmentation, type SegmentOptions, type OtsuOptions, type Particle, type Connectivity,
} from './imaging/segment';
export { unreactedStats, statsFromSums, type UnreactedStats } from './observables/unreacted';
export { estimateDrift, shiftFrame, DriftEstimator, type DriftOptions, type DriftEstimate } from './imaging/drift';
export { lineThroughParticle, sampleLine, linePositions_um, offsetDirectionDeg, resampleRows, type LineCut } from './imaging/kymograph';
export {
  classifyParticle, asymmetricFraction, DEFAULT_ASYM_THRESHOLD, DEFAULT_FRACTION_WINDOW,
  type Classification, type ClassifyOptions,
} from './imaging/classify';
export {
  createCpuProcessor, createGpuProcessor,
  type FrameProcessor, type FrameProcessorOptions, type ProcessedFrame, type CpuProcessorOptions,
} from './imaging/processor';

// ---- a movie from the bytes of a file and the analysis without files: a web page runs `ionflux
// analyze`'s own code on a dropped TIFF (the demo's observed movie); analyzeMovie in 'ionflux' writes
// its folder from the same runAnalysis
export { openTiffBytes, openTiffSource, memoryBytes, parseImageJDescription, type ByteSource, type MovieSource, type SampleType, type OpenMovieOptions } from './io/tiffMovie';
export { parseCapacityCsv, capacityAtFrames, interpolateAt, type CapacityRecord } from './io/capacityCsv';
export {
  runAnalysis, csvNumber,
  type AnalysisCore, type DiffSink, type AnalyzeOptions, type ParticleResult, type ProcessorFactory,
} from './imaging/analysisCore';
export { outlineFromMask, largestComponent, traceBoundary, smoothLoop } from './model/maskTrace';

// ---- figures as RGBA pixels (PNG encoding is Node-only: encodePng in 'ionflux')
export { renderField, renderMontage, type FieldFigureOptions, type FigureImage } from './render/figure';
export { renderThetaSnapshot, defaultThetaRange, type ThetaFigure, type ThetaFigureOptions } from './render/thetaFigure';
export { renderPlotGrid, type PlotPanel, type PlotGridOptions, type PlotImage, type Series } from './render/plot';
export type { ColormapName } from './render/colormap';
export type { RgbaImage } from './render/png';

// ---- simulated vs observed (docs/compare.md): registration, alignment and metrics on arrays; the
// fit's optimiser, parameterisations, batch runners and intervals (fitSurface itself reads a mask
// outline with Node's helpers: 'ionflux')
export {
  registerParticles, maskMoments, similarity, warpToObserved, samplePhysical,
  type MaskImage, type MaskMoments, type Registration, type RegisterOptions,
} from './compare/register';
export {
  compareParticles, pixelAgreement, median,
  type CompareOptions, type ComparisonResult, type FrameComparison, type Alignment, type AlignMode,
} from './compare/compare';
export { simulatedFromFields, simulatedFromMovie, type SimulatedSide, type SimulatedSnapshot } from './compare/simulated';
export type { ObservedParticle, ObservedOptions } from './compare/observed';
export { Cmaes, minimizeCmaes, type CmaesOptions, type CmaesState } from './fit/cmaes';
export { parameterisation, parseFitModel, type FitModel, type Parameterisation, type ParamOptions } from './fit/params';
export { profileIntervals, fitQuadratic, solveLinear, effectiveSamples, type QuadraticFit, type CoordinateInterval, type EffectiveSamples } from './fit/uncertainty';
export { cpuBatchRunner, gpuBatchRunner, type BatchRunner, type BatchOutcome } from './fit/batch';

// ---- the package version (for a notebook's record of what produced a result)
export { VERSION } from './version';

// ---- formats that need no file system
export { encodeNpy, decodeNpy } from './io/npy';
