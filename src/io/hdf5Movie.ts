/**
 * HDF5 movies for `ionflux analyze`: one 3-D dataset (frames, rows, cols), as the charge-photometry
 * rigs' pipelines write (a `movie` dataset of 1920×1200 uint16 frames, files of 16–700 GB).
 *
 * Read with `h5wasm` (the HDF5 C library compiled to WebAssembly, maintained by NIST). Its Node build
 * uses Emscripten's NODERAWFS: HDF5 reads the real file through a file descriptor, so only the
 * chunks a read touches come into memory, never the whole file. `readFrame(t)` reads one frame with
 * `dataset.slice([[t, t + 1]])`; chunked and compressed (gzip, shuffle) datasets are decoded by HDF5.
 *
 * The dataset: `--dataset PATH`, else `/movie` when present, else the only 3-D dataset in the file;
 * otherwise an error lists the datasets present. Sample types: uint8 and uint16 as they are, float32
 * as is; other integer and float types (int8/16/32/64, uint32/64, float64) converted to float32;
 * anything else (strings, compounds, float16, …) refused.
 *
 * Calibration attributes, looked for on the dataset first, then on the file's root group (the first
 * name found wins; see docs/analyze.md):
 *   pixel size: `pixel_um`, `pixel_size_um` (µm; a scalar, or [y, x]), `element_size_um` (µm per axis,
 *               the last two are [y, x], as ilastik and Fiji's HDF5 plugin write), `pixel_size_nm` (nm),
 *               `pixel_size` with a unit attribute `pixel_size_unit` / `pixel_size_units` / `unit` / `units`
 *   frame interval: `frame_s`, `frame_interval_s` (s), `frame_interval_ms` (ms), `frame_interval` with
 *               `frame_interval_unit` / `frame_interval_units` / `time_unit`, `frame_rate_hz` / `fps` (1/x)
 */
import { open } from 'node:fs/promises';
import type { Dataset, File as H5File, Group } from 'h5wasm/node';
import { UserError } from '../errors';
import { lengthUnit_um, timeUnit_s, type CalibrationValue, type MovieCalibration } from './calibration';
import type { FrameData, MovieSource, OpenMovieOptions, SampleType } from './movie';

const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
/** where HDF5 looks for its superblock: 0, then 512, 1024, 2048, … (after a user block) */
const SUPERBLOCK_OFFSETS = [0, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536];

async function readAt(file: string, offset: number, bytes: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, offset);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** The offset of the HDF5 superblock signature in `file`, or -1 when it is not an HDF5 file. */
export async function hdf5SignatureOffset(file: string): Promise<number> {
  for (const at of SUPERBLOCK_OFFSETS) {
    const b = await readAt(file, at, 8);
    if (b.length < 8) return -1;
    if (b.equals(HDF5_SIGNATURE)) return at;
  }
  return -1;
}

/** True when `file` starts (or, after a user block, continues) with the HDF5 signature. */
export async function isHdf5File(file: string): Promise<boolean> {
  return (await hdf5SignatureOffset(file)) >= 0;
}

/**
 * The end-of-file address the superblock records (bytes from its base), or null when it cannot be
 * read: a file shorter than that was cut short (a copy or transfer that stopped).
 */
async function superblockEof(file: string, at: number): Promise<number | null> {
  const b = await readAt(file, at, 64);
  if (b.length < 12) return null;
  const version = b[8];
  const offsetSize = version <= 1 ? b[13] : b[9];
  if (![2, 4, 8].includes(offsetSize)) return null;
  // v0: 24-byte fixed part, v1: 28 (two more K fields); then base, free-space/extension, EOF addresses
  const eofAt = version === 0 ? 24 + 2 * offsetSize : version === 1 ? 28 + 2 * offsetSize : 12 + 2 * offsetSize;
  if (b.length < eofAt + offsetSize) return null;
  const eof = offsetSize === 8 ? Number(b.readBigUInt64LE(eofAt)) : offsetSize === 4 ? b.readUInt32LE(eofAt) : b.readUInt16LE(eofAt);
  return eof;
}

type H5wasm = typeof import('h5wasm/node').default;
let hdf5Ready: Promise<H5wasm> | null = null;
/**
 * Loads h5wasm once, on first use (its WebAssembly module compiles on import: every other command
 * would pay for it); HDF5 errors become exceptions, not stack dumps on stderr.
 */
export function loadHdf5(): Promise<H5wasm> {
  hdf5Ready ??= import('h5wasm/node').then(async ({ default: h5 }) => {
    const m = await h5.ready;
    m.activate_throwing_error_handler();
    return h5;
  });
  return hdf5Ready;
}

/** The innermost HDF5 error line (e.g. "truncated file: eof = …"), for a one-line message. */
function hdf5Reason(e: unknown): string {
  const text = String((e as Error)?.message ?? e);
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => /^#\d+:/.test(l));
  const last = lines.length ? lines[lines.length - 1] : text.split('\n')[0];
  const m = /\):\s*(.*)$/.exec(last);
  return (m ? m[1] : last).trim();
}

interface DatasetInfo { path: string; shape: number[]; dtype: string }

function describeDtype(d: Dataset): string {
  const m = d.metadata;
  if (m.type === 0) return `${m.signed ? 'int' : 'uint'}${m.size * 8}`;
  if (m.type === 1) return `float${m.size * 8}`;
  if (m.type === 3) return 'string';
  if (m.type === 6) return 'compound';
  return `HDF5 type class ${m.type}`;
}

/** Every dataset in the file (depth-first, sorted names), at most `limit`. */
function listDatasets(h5wasm: H5wasm, root: Group, limit = 50): DatasetInfo[] {
  const out: DatasetInfo[] = [];
  const walk = (g: Group, prefix: string) => {
    for (const name of [...g.keys()].sort()) {
      if (out.length >= limit) return;
      let obj;
      try { obj = g.get(name); } catch { continue; } // broken or external links
      const p = `${prefix}/${name}`;
      if (obj instanceof h5wasm.Dataset) out.push({ path: p, shape: obj.shape ?? [], dtype: describeDtype(obj) });
      else if (obj instanceof h5wasm.Group) walk(obj, p);
    }
  };
  walk(root, '');
  return out;
}

function datasetList(list: DatasetInfo[]): string {
  if (!list.length) return 'none';
  return list.map((d) => `${d.path} (${d.shape.join('×') || 'scalar'} ${d.dtype})`).join(', ');
}

function sampleTypeOf(d: Dataset, name: string): SampleType {
  const m = d.metadata;
  if (m.type === 0 && !m.signed && m.size === 1) return 'uint8';
  if (m.type === 0 && !m.signed && m.size === 2) return 'uint16';
  if (m.type === 1 && m.size === 4) return 'float32';
  if (m.type === 1 && m.size === 2) throw new UserError(`${name}: float16 samples are not supported: store the movie as uint16, float32 or float64`);
  if ((m.type === 0 && [1, 2, 4, 8].includes(m.size)) || (m.type === 1 && m.size === 8)) return 'float32'; // converted
  throw new UserError(`${name} holds ${describeDtype(d)} values: a movie needs integer or float samples (uint8/uint16/float32; other integer and float types are converted)`);
}

function numberOf(v: unknown): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (ArrayBuffer.isView(v) || Array.isArray(v)) {
    const a = v as ArrayLike<number | bigint>;
    return a.length === 1 ? Number(a[0]) : null;
  }
  return null;
}

function numbersOf(v: unknown): number[] | null {
  if (typeof v === 'number' || typeof v === 'bigint') return [Number(v)];
  if (ArrayBuffer.isView(v) || Array.isArray(v)) return Array.from(v as ArrayLike<number | bigint>, Number);
  return null;
}

function stringOf(v: unknown): string | null {
  if (typeof v === 'string') return v.replace(/\0+$/, '').trim();
  if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'string') return v[0].replace(/\0+$/, '').trim();
  return null;
}

type Attrs = Record<string, { value: unknown }>;

/** Pixel size [x, y] in µm from one object's attributes; a note for what was found but not used. */
function pixelFromAttrs(attrs: Attrs, where: string, notes: string[]): { x: CalibrationValue; y: CalibrationValue } | null {
  const yx = (vals: number[] | null, name: string, scale: number, unit: string) => {
    if (!vals || !vals.length) return null;
    const y = vals.length >= 2 ? vals[vals.length - 2] : vals[0], x = vals[vals.length - 1];
    if (!(x > 0 && y > 0 && Number.isFinite(x) && Number.isFinite(y))) { notes.push(`${where} attribute ${name} = ${vals.join(',')} is not a positive size; not used`); return null; }
    const detail = `${where} ${name}=${vals.length > 1 ? `[${vals.join(', ')}]` : vals[0]}${unit ? ` ${unit}` : ''}`;
    return { x: { value: x * scale, source: 'hdf5-attribute' as const, detail }, y: { value: y * scale, source: 'hdf5-attribute' as const, detail } };
  };
  for (const name of ['pixel_um', 'pixel_size_um', 'element_size_um']) {
    if (attrs[name]) return yx(numbersOf(attrs[name].value), name, 1, 'µm');
  }
  if (attrs.pixel_size_nm) return yx(numbersOf(attrs.pixel_size_nm.value), 'pixel_size_nm', 1e-3, 'nm');
  if (attrs.pixel_size) {
    const unitName = ['pixel_size_unit', 'pixel_size_units', 'unit', 'units'].find((u) => attrs[u]);
    const unit = unitName ? stringOf(attrs[unitName].value) : null;
    if (!unit) { notes.push(`${where} attribute pixel_size has no unit attribute (pixel_size_unit); not used`); return null; }
    const scale = lengthUnit_um(unit);
    if (scale === null) { notes.push(`${where} attribute ${unitName} = '${unit}' is not a length unit ionflux knows; pixel_size not used`); return null; }
    return yx(numbersOf(attrs.pixel_size.value), 'pixel_size', scale, unit);
  }
  return null;
}

/** Frame interval in s from one object's attributes. */
function frameFromAttrs(attrs: Attrs, where: string, notes: string[]): CalibrationValue | null {
  const val = (v: number | null, name: string, toSeconds: (v: number) => number, unit: string): CalibrationValue | null => {
    if (v === null || !(v > 0) || !Number.isFinite(v)) { notes.push(`${where} attribute ${name} is not a positive number; not used`); return null; }
    return { value: toSeconds(v), source: 'hdf5-attribute', detail: `${where} ${name}=${v}${unit ? ` ${unit}` : ''}` };
  };
  if (attrs.frame_s) return val(numberOf(attrs.frame_s.value), 'frame_s', (v) => v, 's');
  if (attrs.frame_interval_s) return val(numberOf(attrs.frame_interval_s.value), 'frame_interval_s', (v) => v, 's');
  if (attrs.frame_interval_ms) return val(numberOf(attrs.frame_interval_ms.value), 'frame_interval_ms', (v) => v * 1e-3, 'ms');
  if (attrs.frame_interval) {
    const unitName = ['frame_interval_unit', 'frame_interval_units', 'time_unit'].find((u) => attrs[u]);
    const unit = unitName ? stringOf(attrs[unitName].value) : null;
    if (!unit) { notes.push(`${where} attribute frame_interval has no unit attribute (frame_interval_unit); not used`); return null; }
    const scale = timeUnit_s(unit);
    if (scale === null) { notes.push(`${where} attribute ${unitName} = '${unit}' is not a time unit ionflux knows; frame_interval not used`); return null; }
    return val(numberOf(attrs.frame_interval.value), 'frame_interval', (v) => v * scale, unit);
  }
  for (const name of ['frame_rate_hz', 'fps']) {
    if (attrs[name]) return val(numberOf(attrs[name].value), name, (v) => 1 / v, 'Hz');
  }
  return null;
}

function safeAttrs(obj: Dataset | Group): Attrs {
  try { return obj.attrs as unknown as Attrs; } catch { return {}; }
}

/** Calibration from the dataset's attributes, else the root group's (src/io/calibration.ts sources). */
function hdf5Calibration(d: Dataset, root: H5File, datasetPath: string, notes: string[]): MovieCalibration {
  const dsAttrs = safeAttrs(d), rootAttrs = safeAttrs(root);
  const pixel = pixelFromAttrs(dsAttrs, datasetPath, notes) ?? pixelFromAttrs(rootAttrs, '/', notes);
  const frame_s = frameFromAttrs(dsAttrs, datasetPath, notes) ?? frameFromAttrs(rootAttrs, '/', notes);
  if (pixel) notes.push(`pixel size ${pixel.x.value} µm (${pixel.x.detail})`);
  if (frame_s) notes.push(`frame interval ${frame_s.value} s (${frame_s.detail})`);
  return { pixelX_um: pixel?.x ?? null, pixelY_um: pixel?.y ?? null, frame_s };
}

function toFrame(data: unknown, type: SampleType, n: number, name: string, index: number): FrameData {
  const a = data as ArrayLike<number | bigint> & { constructor: unknown };
  if (!a || typeof (a as ArrayLike<unknown>).length !== 'number' || a.length !== n) {
    throw new UserError(`${name}: frame ${index} came back with ${a && (a as ArrayLike<unknown>).length} values, expected ${n}; the file may be corrupt`);
  }
  if (type === 'uint8' && a instanceof Uint8Array) return a;
  if (type === 'uint16' && a instanceof Uint16Array) return a;
  if (type === 'float32' && a instanceof Float32Array) return a;
  const out = type === 'uint8' ? new Uint8Array(n) : type === 'uint16' ? new Uint16Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Number(a[i]);
  return out;
}

/**
 * Opens a 3-D dataset of an HDF5 file as a movie (see the module comment). Checks the file's length
 * against its superblock first: HDF5 itself would only say "unable to open file".
 */
export async function openHdf5Movie(file: string, fileSize: number, options: OpenMovieOptions = {}): Promise<MovieSource> {
  const at = await hdf5SignatureOffset(file);
  if (at < 0) throw new UserError(`movie ${file} is not an HDF5 file (no HDF5 signature)`);
  const eof = await superblockEof(file, at);
  if (eof !== null && at + eof > fileSize) {
    throw new UserError(`${file} is truncated: its HDF5 superblock says the file is ${at + eof} bytes but it has ${fileSize}; copy the file again`);
  }
  const h5wasm = await loadHdf5();
  let f: H5File;
  try {
    f = new h5wasm.File(file, 'r');
  } catch (e) {
    throw new UserError(`${file} cannot be opened as HDF5 (${hdf5Reason(e)}); the file may be corrupt or still being written`);
  }
  const fail = (msg: string): never => {
    try { f.close(); } catch { /* already closed */ }
    throw new UserError(msg);
  };
  try {
    // the dataset
    let datasetPath = options.dataset;
    let d: Dataset | null = null;
    if (datasetPath !== undefined) {
      const p = datasetPath.startsWith('/') ? datasetPath : `/${datasetPath}`;
      let obj: unknown = null;
      try { obj = f.get(p); } catch { obj = null; }
      if (obj instanceof h5wasm.Group) fail(`--dataset ${datasetPath} is a group in ${file}, not a dataset: datasets present: ${datasetList(listDatasets(h5wasm, f))}`);
      if (!(obj instanceof h5wasm.Dataset)) fail(`${file} has no dataset '${datasetPath}': datasets present: ${datasetList(listDatasets(h5wasm, f))}; pass --dataset PATH`);
      d = obj as Dataset;
      datasetPath = p;
    } else {
      let movie: unknown = null;
      try { movie = f.get('/movie'); } catch { movie = null; }
      if (movie instanceof h5wasm.Dataset) {
        d = movie;
        datasetPath = '/movie';
      } else {
        const all = listDatasets(h5wasm, f, 1000);
        const threeD = all.filter((x) => x.shape.length === 3);
        if (threeD.length !== 1) {
          fail(`${file} has ${threeD.length === 0 ? 'no 3-D dataset' : `${threeD.length} 3-D datasets and none named /movie`}: pass --dataset PATH; datasets present: ${datasetList(all.slice(0, 50))}`);
        }
        datasetPath = threeD[0].path;
        d = f.get(datasetPath) as Dataset;
      }
    }
    const name = `${file}:${datasetPath}`;
    const shape = d!.shape ?? [];
    if (shape.length !== 3) {
      const hint = shape.length === 4
        ? ': write one channel or z-slice as a 3-D dataset (frames, rows, cols)'
        : shape.length === 2 ? ' (a single image): a movie needs 3 dimensions (frames, rows, cols)' : ': a movie needs 3 dimensions (frames, rows, cols)';
      fail(`${name} is ${shape.length}-D (${shape.join('×') || 'scalar'})${hint}`);
    }
    const [frames, height, width] = shape;
    if (!(frames >= 1 && height >= 1 && width >= 1)) fail(`${name} is empty (${shape.join('×')}): a movie needs at least one frame`);
    let type: SampleType;
    try { type = sampleTypeOf(d!, name); } catch (e) { return fail((e as Error).message); }
    if (options.channel !== undefined && options.channel !== 0) {
      fail(`--channel ${options.channel} is not allowed for ${name}: a 3-D dataset has 1 channel, use 0`);
    }

    const notes: string[] = [`HDF5 dataset ${datasetPath}: ${shape.join('×')} ${describeDtype(d!)}${type === 'float32' && describeDtype(d!) !== 'float32' ? ' (converted to float32)' : ''}`];
    const chunks = d!.metadata.chunks;
    if (chunks) {
      notes.push(`chunks ${chunks.join('×')}${d!.filters.length ? `, filters ${d!.filters.map((x) => x.name).join('+')}` : ''}`);
      // a chunk spanning several frames is decoded again for each of them (HDF5's chunk cache is 1 MiB)
      if (chunks[0] > 1) notes.push(`each chunk holds ${chunks[0]} frames: reading frame by frame decodes each chunk up to ${chunks[0]} times`);
    }
    const calibration = hdf5Calibration(d!, f, datasetPath!, notes);
    const dataset = d!;
    const n = width * height;
    let closed = false;
    return {
      path: file,
      kind: 'hdf5',
      width, height, frames,
      sampleType: type,
      pixel_um: calibration.pixelX_um?.value ?? null,
      frame_s: calibration.frame_s?.value ?? null,
      calibration,
      notes,
      async readFrame(index: number): Promise<FrameData> {
        if (!(Number.isInteger(index) && index >= 0 && index < frames)) throw new Error(`${name}: frame ${index} out of range 0…${frames - 1}`);
        let data: unknown;
        try {
          data = dataset.slice([[index, index + 1]]);
        } catch (e) {
          throw new UserError(`${name}: frame ${index} cannot be read (${hdf5Reason(e)}); the file may be truncated or corrupt`);
        }
        return toFrame(data, type, n, name, index);
      },
      async close() {
        if (closed) return;
        closed = true;
        try { f.close(); } catch { /* already closed */ }
      },
    };
  } catch (e) {
    if (e instanceof UserError) throw e;
    return fail(`${file} cannot be read as HDF5 (${hdf5Reason(e)})`);
  }
}
