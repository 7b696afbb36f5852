#!/usr/bin/env node
/**
 * The catalogue of bad inputs and faults (issue 6): runs the BUILT CLI (`node bin/ionflux.js …`) on
 * every case below, in a temporary folder it makes and deletes, and writes docs/bad-inputs.md (a
 * table per command: the input, the exit code, the message, a verdict). Nothing else is written.
 *
 *   npm run build && node scripts/bad-inputs.mjs        (or: npm run bad-inputs)
 *
 * Verdict OK: the exit code is the documented one (1 bad input, 2 a fault of the environment,
 * 130 / 143 stopped by SIGINT / SIGTERM; src/errors.ts) and the message is exactly one line starting
 * `ionflux: `, with no stack trace and no "internal error". Some inputs are odd but legitimate
 * (a colour TIFF is averaged): those may also be accepted. Some must be refused or at least warned
 * about (1e12 mA/g). A few cases also check what the run left behind (the user's files untouched).
 *
 * Test inputs are made here: PNGs with pngjs, TIFFs byte by byte (so that broken ones can be made),
 * HDF5 files with /usr/bin/python3 + h5py (skipped, and said so, when that is missing). The output-folder
 * faults need root (chattr +i, tmpfs and read-only bind mounts); without it those cases are skipped.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'bin', 'ionflux.js');
const DOC = path.join(ROOT, 'docs', 'bad-inputs.md');
const PYTHON = '/usr/bin/python3';
const CASE_TIMEOUT_MS = 90_000;

if (!existsSync(path.join(ROOT, 'dist', 'cli.js'))) {
  console.error('bad-inputs: dist/cli.js is missing: run `npm run build` first');
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------
// stage 1: the inputs (small files made here)

/** A baseline TIFF, little-endian, uncompressed, one strip per page; fields can be overridden to break it. */
function tiffBytes(pages, { description } = {}) {
  const parts = [];
  let offset = 8;
  const header = Buffer.alloc(8);
  header.write('II', 0, 'latin1');
  header.writeUInt16LE(42, 2);
  parts.push(header);
  let prevNextPtr = 4; // where the previous IFD's "next IFD" offset is written
  const patches = [];
  pages.forEach((pg, k) => {
    const spp = pg.spp ?? 1;
    const bits = pg.bits ?? 16;
    const data = pg.data;
    const dataOff = offset;
    parts.push(data);
    offset += data.length;
    if (offset % 2) { parts.push(Buffer.alloc(1)); offset += 1; }
    const entries = [
      [256, 4, [pg.w]], [257, 4, [pg.h]], [258, 3, Array(spp).fill(bits)], [259, 3, [1]], [262, 3, [spp >= 3 ? 2 : 1]],
      ...(k === 0 && description ? [[270, 2, description]] : []),
      [273, 4, [dataOff]], [277, 3, [spp]], [278, 4, [pg.h]], [279, 4, [pg.byteCount ?? data.length]], [284, 3, [1]],
      [339, 3, Array(spp).fill(pg.format ?? 1)],
    ].sort((a, b) => a[0] - b[0]);
    const ifdOff = offset;
    const ifd = Buffer.alloc(2 + entries.length * 12 + 4);
    ifd.writeUInt16LE(entries.length, 0);
    const extra = [];
    let extraOff = ifdOff + ifd.length;
    entries.forEach(([tag, type, values], i) => {
      const e = 2 + i * 12;
      ifd.writeUInt16LE(tag, e);
      ifd.writeUInt16LE(type, e + 2);
      let bytes;
      if (type === 2) bytes = Buffer.from(`${values}\0`, 'latin1');
      else {
        const size = type === 3 ? 2 : 4;
        bytes = Buffer.alloc(values.length * size);
        values.forEach((v, j) => (size === 2 ? bytes.writeUInt16LE(v, j * size) : bytes.writeUInt32LE(v, j * size)));
      }
      ifd.writeUInt32LE(type === 2 ? bytes.length : values.length, e + 4);
      if (bytes.length <= 4) bytes.copy(ifd, e + 8);
      else {
        ifd.writeUInt32LE(extraOff, e + 8);
        extra.push(bytes);
        extraOff += bytes.length + (bytes.length % 2);
        if (bytes.length % 2) extra.push(Buffer.alloc(1));
      }
    });
    patches.push([prevNextPtr, ifdOff]);
    prevNextPtr = ifdOff + 2 + entries.length * 12;
    parts.push(ifd, ...extra);
    offset = extraOff;
  });
  const out = Buffer.concat(parts);
  for (const [at, value] of patches) out.writeUInt32LE(value, at);
  return out;
}

/** Pixels of a w×h frame from f(x, y) as the given sample type. */
function pixels(w, h, f, type = 'uint16') {
  const n = w * h;
  const arr = type === 'uint8' ? new Uint8Array(n) : type === 'uint16' ? new Uint16Array(n) : type === 'float32' ? new Float32Array(n) : new Float64Array(n);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) arr[y * w + x] = f(x, y);
  return Buffer.from(arr.buffer);
}

const W = 48, H = 48, FRAMES = 8;
/** A bright disk whose right side brightens frame by frame (a reaction front): a movie the analysis accepts. */
function particleValue(x, y, t, frames = FRAMES, w = W, h = H) {
  const cx = w / 2, cy = h / 2, r = Math.min(w, h) * 0.3;
  const d = Math.hypot(x - cx, y - cy);
  if (d > r) return 400;
  const front = cx + r - (2 * r * t) / Math.max(1, frames - 1);
  return x > front ? 2600 : 2000;
}
const page = (t, opts = {}) => {
  const w = opts.w ?? W, h = opts.h ?? H, frames = opts.frames ?? FRAMES;
  return { w, h, bits: opts.bits ?? 16, format: opts.format ?? 1, data: pixels(w, h, (x, y) => particleValue(x, y, t, frames, w, h), opts.type ?? 'uint16') };
};

function pngBytes(w, h, f, { colorType = 0, bitDepth = 8 } = {}) {
  const png = new PNG({ width: w, height: h, colorType, inputColorType: colorType === 2 ? 2 : 0, bitDepth, inputHasAlpha: false });
  const chans = colorType === 2 ? 3 : 1;
  const data = Buffer.alloc(w * h * chans * (bitDepth / 8));
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const v = f(x, y);
    for (let c = 0; c < chans; c++) {
      const i = (y * w + x) * chans + c;
      if (bitDepth === 16) data.writeUInt16BE(v, i * 2); else data[i] = v;
    }
  }
  png.data = data;
  return PNG.sync.write(png, { colorType, inputColorType: colorType === 2 ? 2 : 0, bitDepth, inputHasAlpha: false });
}
const diskMask = (w, h, r) => (x, y) => (Math.hypot(x - w / 2, y - h / 2) <= r ? 255 : 0);

/** The simulate config every case starts from: coarse and short (well under a second of solving). */
const baseConfig = () => ({
  particle: { shape: 'disk', diameter_um: 2.4 },
  grid: { spacing_um: 0.1 },
  protocol: [{ step: 'charge', current_mA_g: 100, duration_min: 1 }],
  snapshots_min: [],
});

function setPath(obj, key, value) {
  const parts = key.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  let o = obj;
  for (let i = 0; i < parts.length - 1; i++) {
    if (o[parts[i]] === undefined || typeof o[parts[i]] !== 'object') o[parts[i]] = typeof parts[i + 1] === 'number' ? [] : {};
    o = o[parts[i]];
  }
  if (value === undefined) delete o[parts[parts.length - 1]];
  else o[parts[parts.length - 1]] = value;
  return obj;
}

const HDF5_PY = String.raw`
import sys, numpy as np, h5py
d = sys.argv[1]
W, H, T = 48, 48, 8
def frame(t, w=W, h=H, frames=T):
    y, x = np.mgrid[0:h, 0:w]
    cx, cy, r = w / 2, h / 2, min(w, h) * 0.3
    inside = np.hypot(x - cx, y - cy) <= r
    front = cx + r - 2 * r * t / max(1, frames - 1)
    f = np.full((h, w), 400, np.uint16)
    f[inside] = 2000
    f[inside & (x > front)] = 2600
    return f
movie = np.stack([frame(t) for t in range(T)])
with h5py.File(f'{d}/good.h5', 'w') as f: f['movie'] = movie
with h5py.File(f'{d}/nodata.h5', 'w') as f: f.create_group('empty')
with h5py.File(f'{d}/frame2d.h5', 'w') as f: f['image'] = movie[0]
with h5py.File(f'{d}/one-frame.h5', 'w') as f: f['movie'] = movie[:1]
with h5py.File(f'{d}/zero-frames.h5', 'w') as f: f['movie'] = movie[:0]
with h5py.File(f'{d}/two-stacks.h5', 'w') as f:
    f['a'] = movie; f['b'] = movie
with h5py.File(f'{d}/strings.h5', 'w') as f: f['movie'] = np.array([b'frame0', b'frame1'])
with h5py.File(f'{d}/4d.h5', 'w') as f: f['movie'] = np.stack([movie, movie], axis=1)
with h5py.File(f'{d}/float64.h5', 'w') as f: f['movie'] = movie.astype(np.float64)
with h5py.File(f'{d}/nan.h5', 'w') as f:
    m = movie.astype(np.float32); m[:, 20:28, 20:28] = np.nan; f['movie'] = m
with h5py.File(f'{d}/gzip.h5', 'w') as f: f.create_dataset('movie', data=movie, compression='gzip', chunks=(1, H, W))
with h5py.File(f'{d}/lzf.h5', 'w') as f: f.create_dataset('movie', data=movie, compression='lzf', chunks=(1, H, W))
with h5py.File(f'{d}/nested.h5', 'w') as f: f['exchange/data'] = movie
with h5py.File(f'{d}/compound.h5', 'w') as f:
    f['movie'] = np.zeros((T, H, W), dtype=[('a', 'u2'), ('b', 'u2')])
`;

/** Writes every input file into `dir/in`; returns what could not be made. */
function makeInputs(dir) {
  const inDir = path.join(dir, 'in');
  mkdirSync(inDir, { recursive: true });
  const w = (rel, data) => { const p = path.join(inDir, rel); mkdirSync(path.dirname(p), { recursive: true }); writeFileSync(p, data); };

  // movies
  const movie = tiffBytes(Array.from({ length: FRAMES }, (_, t) => page(t)));
  w('movie.tif', movie);
  w('empty.tif', Buffer.alloc(0));
  w('notes.tif', 'frame 1: particle looks fine\n');
  w('truncated.tif', movie.subarray(0, Math.floor(movie.length / 2)));
  w('header-only.tif', movie.subarray(0, 8));
  w('one-page.tif', tiffBytes([page(0)]));
  w('zero-size.tif', tiffBytes([{ w: 0, h: 0, data: Buffer.alloc(0) }, { w: 0, h: 0, data: Buffer.alloc(0) }]));
  w('rgb.tif', tiffBytes(Array.from({ length: FRAMES }, (_, t) => {
    const grey = pixels(W, H, (x, y) => particleValue(x, y, t), 'uint16');
    const rgb = Buffer.alloc(grey.length * 3);
    for (let i = 0; i < W * H; i++) for (let c = 0; c < 3; c++) grey.copy(rgb, (i * 3 + c) * 2, i * 2, i * 2 + 2);
    return { w: W, h: H, bits: 16, spp: 3, data: rgb };
  })));
  w('float64.tif', tiffBytes(Array.from({ length: FRAMES }, (_, t) => ({ w: W, h: H, bits: 64, format: 3, data: pixels(W, H, (x, y) => particleValue(x, y, t), 'float64') }))));
  w('float16.tif', tiffBytes(Array.from({ length: FRAMES }, () => ({ w: W, h: H, bits: 16, format: 3, data: Buffer.alloc(W * H * 2, 0x3c) }))));
  w('1bit.tif', tiffBytes(Array.from({ length: FRAMES }, () => ({ w: W, h: H, bits: 1, data: Buffer.alloc((W / 8) * H, 0x0f) }))));
  w('1x1.tif', tiffBytes(Array.from({ length: FRAMES }, (_, t) => ({ w: 1, h: 1, data: pixels(1, 1, () => 1000 + t) }))));
  w('thin.tif', tiffBytes(Array.from({ length: FRAMES }, (_, t) => page(t, { w: 400, h: 3 }))));
  w('mixed-pages.tif', tiffBytes([page(0), page(1), page(2, { w: 32, h: 40 }), page(3)]));
  w('nan.tif', tiffBytes(Array.from({ length: FRAMES }, (_, t) => ({ w: W, h: H, bits: 32, format: 3, data: pixels(W, H, (x, y) => (x > 20 && x < 28 && y > 20 && y < 28 ? NaN : particleValue(x, y, t)), 'float32') }))));
  w('all-zero.tif', tiffBytes(Array.from({ length: FRAMES }, () => ({ w: W, h: H, data: Buffer.alloc(W * H * 2) }))));
  w('saturated.tif', tiffBytes(Array.from({ length: FRAMES }, () => ({ w: W, h: H, data: Buffer.alloc(W * H * 2, 0xff) }))));
  w('lying-counts.tif', tiffBytes(Array.from({ length: FRAMES }, (_, t) => ({ ...page(t), byteCount: 10 }))));
  w('ome-broken.ome.tif', tiffBytes(Array.from({ length: FRAMES }, (_, t) => page(t)), { description: '<?xml version="1.0"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image ID="Image:0"><Pixels SizeX="48"' }));
  w('ome-2channels.ome.tif', tiffBytes(Array.from({ length: FRAMES }, (_, t) => page(Math.floor(t / 2))), {
    description: '<?xml version="1.0" encoding="UTF-8"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="XYCZT" Type="uint16" SizeX="48" SizeY="48" SizeC="2" SizeZ="1" SizeT="4" PhysicalSizeX="0.1" PhysicalSizeY="0.1"><Channel ID="Channel:0:0" SamplesPerPixel="1"/><Channel ID="Channel:0:1" SamplesPerPixel="1"/><TiffData/></Pixels></Image></OME>',
  }));
  w('ome-wrong-count.ome.tif', tiffBytes(Array.from({ length: 4 }, (_, t) => page(t, { frames: 4 })), {
    description: '<?xml version="1.0" encoding="UTF-8"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="XYCZT" Type="uint16" SizeX="48" SizeY="48" SizeC="1" SizeZ="1" SizeT="8"><Channel ID="Channel:0:0" SamplesPerPixel="1"/><TiffData/></Pixels></Image></OME>',
  }));
  // a movie long enough to interrupt
  w('long.tif', tiffBytes(Array.from({ length: 300 }, (_, t) => page(t, { w: 160, h: 160, frames: 300 }))));

  // frame folders
  mkdirSync(path.join(inDir, 'empty-folder'), { recursive: true });
  w('notes-folder/readme.txt', 'no frames here');
  for (let t = 0; t < 4; t++) w(`mixed-sizes/frame${t}.png`, pngBytes(t === 2 ? 40 : W, H, (x, y) => particleValue(x, y, t, 4) >> 4));
  for (let t = 0; t < 4; t++) w(`frames/frame${t}.png`, pngBytes(W, H, (x, y) => particleValue(x, y, t, 4) >> 4));
  w('one-frame/frame0.png', pngBytes(W, H, (x, y) => particleValue(x, y, 0) >> 4));
  for (let t = 0; t < 4; t++) w(`corrupt-frame/frame${t}.png`, t === 2 ? Buffer.from('\x89PNG\r\n\x1a\n broken') : pngBytes(W, H, (x, y) => particleValue(x, y, t, 4) >> 4));
  for (let t = 0; t < 3; t++) w(`stack-in-folder/frame${t}.tif`, t === 1 ? movie : tiffBytes([page(t)]));
  for (let t = 0; t < 4; t++) w(`png-and-tif/frame${t}.${t % 2 ? 'png' : 'tif'}`, t % 2 ? pngBytes(W, H, (x, y) => particleValue(x, y, t, 4) >> 4) : tiffBytes([page(t, { frames: 4 })]));
  w('single.png', pngBytes(W, H, (x, y) => particleValue(x, y, 0) >> 4));

  // masks (simulate particle.file and analyze --mask)
  w('mask.png', pngBytes(32, 32, diskMask(32, 32, 12)));
  w('mask-empty.png', Buffer.alloc(0));
  w('mask-text.png', 'this is a note, not an image\n');
  w('mask-rgb.png', pngBytes(32, 32, diskMask(32, 32, 12), { colorType: 2 }));
  w('mask-zero.png', pngBytes(32, 32, () => 0));
  w('mask-tiny.png', pngBytes(32, 32, (x, y) => (x >= 15 && x < 17 && y >= 15 && y < 17 ? 255 : 0)));
  w('mask-truncated.png', pngBytes(32, 32, diskMask(32, 32, 12)).subarray(0, 40));
  w('mask-16bit.png', pngBytes(32, 32, (x, y) => (diskMask(32, 32, 12)(x, y) ? 65535 : 0), { bitDepth: 16 }));
  w('mask-48.png', pngBytes(W, H, diskMask(W, H, 14)));
  w('mask-48-zero.png', pngBytes(W, H, () => 0));
  w('mask-full.png', pngBytes(32, 32, () => 255));
  mkdirSync(path.join(inDir, 'mask-folder.png'), { recursive: true });

  // capacity files
  const frameTimes = Array.from({ length: FRAMES }, (_, t) => t);
  w('cap.csv', `time_s,capacity_mAh_g,voltage_V\n${frameTimes.map((t) => `${t},${t * 2},${3.7 + t * 0.01}`).join('\n')}\n`);
  w('cap-empty.csv', '');
  w('cap-late.csv', 'time_s,capacity_mAh_g\n1000,0\n2000,50\n');
  w('cap-columns.csv', 'time,cap\n0,0\n1,2\n');
  w('cap-text.csv', 'time_s,capacity_mAh_g\n0,0\n1,two\n');
  w('cap-decreasing.csv', 'time_s,capacity_mAh_g\n0,0\n2,2\n1,3\n');
  w('cap-header-only.csv', 'time_s,capacity_mAh_g\n');
  w('cap-semicolon.csv', 'time_s;capacity_mAh_g\n0;0\n1;2,5\n');
  w('cap-duplicate-time.csv', 'time_s,capacity_mAh_g\n0,0\n1,1\n1,2\n');
  w('cap-binary.csv', movie.subarray(0, 200));

  // simulate configs written as text (the object ones are written per case)
  w('cfg-empty.json', '');
  w('cfg-not-json.json', 'particle: disk\ngrid: 0.1\n');
  w('cfg-nan.json', '{"grid": {"spacing_um": NaN}, "protocol": [{"step": "charge", "current_mA_g": 100, "duration_min": 1}]}');
  w('cfg-trailing-comma.json', '{"protocol": [{"step": "charge", "current_mA_g": 100, "duration_min": 1},],}');
  w('cfg-array.json', '[]');
  w('cfg-null.json', 'null');
  w('cfg-binary.json', movie.subarray(0, 300));
  w('cfg-comments.json', '// my run\n{"protocol": [{"step": "charge", "current_mA_g": 100, "duration_min": 1}]}');
  mkdirSync(path.join(inDir, 'cfg-folder.json'), { recursive: true });
  w('bench-user.json', '{"my": "notes"}\n');
  w('user-file.txt', 'a user\'s file\n');

  // HDF5
  const skipped = [];
  mkdirSync(path.join(inDir, 'h5'), { recursive: true });
  w('h5/text.h5', 'not hdf5\n');
  w('h5/empty.h5', Buffer.alloc(0));
  const py = existsSync(PYTHON) ? spawnSync(PYTHON, ['-c', HDF5_PY, path.join(inDir, 'h5')], { encoding: 'utf8' }) : null;
  if (!py || py.status !== 0) {
    skipped.push(`HDF5 files: ${PYTHON} with numpy and h5py ${py ? `failed (${(py.stderr || '').trim().split('\n').pop()})` : 'is missing'}`);
  } else {
    const good = readFileSync(path.join(inDir, 'h5', 'good.h5'));
    w('h5/truncated.h5', good.subarray(0, Math.floor(good.length / 2)));
  }
  return skipped;
}

// ---------------------------------------------------------------------------------------------
// stage 2: the cases

const cases = [];
const add = (group, input, args, opts = {}) => cases.push({ group, input, args, want: 1, ...opts });
const OUT = '{OUT}';
const fast = ['--backend', 'cpu', '--quiet', '--out', OUT];

/** a config file = the base config with `key` set to `value` (undefined: deleted) */
function cfgCase(input, edits, opts = {}) {
  add('simulate', input, (c) => {
    const cfg = baseConfig();
    for (const [k, v] of Object.entries(edits)) setPath(cfg, k, v);
    const file = `in/c${c.id}.json`;
    writeFileSync(path.join(c.dir, file), JSON.stringify(cfg, null, 1));
    return ['simulate', '--config', file, ...(opts.extra ?? []), ...fast];
  }, opts);
}
const show = (v) => (v === undefined ? '(deleted)' : JSON.stringify(v));
/** one key of the config given one bad value */
const key = (k, v, opts = {}) => cfgCase(`config ${k} = ${show(v)}`, { [k]: v }, opts);
const preset = (sets, opts = {}) => ['simulate', '--preset', 'fig4a', '--set', 'grid.spacing_um=0.1', '--set', 'protocol=[{"step":"charge","current_mA_g":100,"duration_min":1}]', '--set', 'snapshots_min=[]', ...sets.flatMap((s) => ['--set', s]), ...fast];

// -- simulate: where the config comes from
add('simulate', 'neither --config nor --preset', ['simulate', ...fast]);
add('simulate', 'both --config and --preset', ['simulate', '--config', 'in/cfg-array.json', '--preset', 'fig4a', ...fast]);
add('simulate', '--config file missing', ['simulate', '--config', 'in/nope.json', ...fast]);
add('simulate', '--config is a folder', ['simulate', '--config', 'in/cfg-folder.json', ...fast]);
add('simulate', '--config empty file', ['simulate', '--config', 'in/cfg-empty.json', ...fast]);
add('simulate', '--config YAML-ish text', ['simulate', '--config', 'in/cfg-not-json.json', ...fast]);
add('simulate', '--config with a NaN literal', ['simulate', '--config', 'in/cfg-nan.json', ...fast]);
add('simulate', '--config with trailing commas', ['simulate', '--config', 'in/cfg-trailing-comma.json', ...fast]);
add('simulate', '--config with a // comment', ['simulate', '--config', 'in/cfg-comments.json', ...fast]);
add('simulate', '--config top level is []', ['simulate', '--config', 'in/cfg-array.json', ...fast]);
add('simulate', '--config top level is null', ['simulate', '--config', 'in/cfg-null.json', ...fast]);
add('simulate', '--config binary (a TIFF)', ['simulate', '--config', 'in/cfg-binary.json', ...fast]);
add('simulate', '--preset unknown (fig5)', ['simulate', '--preset', 'fig5', ...fast]);
add('simulate', '--preset wrong case (FIG4A)', ['simulate', '--preset', 'FIG4A', ...fast]);
add('simulate', '--preset empty string', ['simulate', '--preset', '', ...fast]);
add('simulate', '--backend quantum', ['simulate', '--preset', 'fig4a', '--backend', 'quantum', '--quiet', '--out', OUT]);

// -- simulate: keys and structure
cfgCase('config unknown top-level key (typo gird)', { gird: { spacing_um: 0.1 } });
cfgCase('config unknown nested key grid.spcing_um', { 'grid.spcing_um': 0.1 });
key('protocol', undefined);
key('protocol', []);
key('protocol', 'charge');
key('protocol.0.step', 'chrage');
key('protocol.0.current_mA_g', undefined);
cfgCase('config rest step with a current', { 'protocol.0': { step: 'rest', current_mA_g: 100, duration_min: 1 } });
key('protocol.0.current_mA_g', -100);
key('protocol.0.current_mA_g', 0);
key('protocol.0.current_mA_g', '100');
key('protocol.0.current_mA_g', 1e12, { want: 'refuse-or-warn', warn: /current|mA\/g|C-rate/i });
key('protocol.0.current_mA_g', 1e5, { want: 'refuse-or-warn', warn: /current|mA\/g|C-rate/i, input: 'config protocol.0.current_mA_g = 1e5 (about 360 C)' });
cfgCase('config discharge from a full particle (initialTheta 1)', { 'protocol.0.step': 'discharge' }, { want: 'refuse-or-warn', warn: /initialTheta|full|cut-?off|surfaceThetaMax/i });
cfgCase('config rest-only protocol (legitimate: nothing happens)', { protocol: [{ step: 'rest', duration_min: 1 }] }, { want: [0, 1] });
key('protocol.0.current_mA', 100);
key('protocol.0.duration_min', 0);
key('protocol.0.duration_min', -5);
key('protocol.0.duration_min', 1e9);
key('protocol.0.duration_min', '20 min');
key('grid.spacing_um', 0);
key('grid.spacing_um', -0.1);
key('grid.spacing_um', '0.1');
key('grid.spacing_um', 1e-4);
key('grid.spacing_um', 10);
key('grid', 0.1);
key('particle.diameter_um', 0);
key('particle.diameter_um', -2.4);
key('particle.diameter_um', 1e6);
key('particle.diameter_um', 0.15);
key('particle.shape', 'square');
cfgCase('config ellipse without axes_um', { particle: { shape: 'ellipse' } });
cfgCase('config ellipse axes_um = [2.4]', { particle: { shape: 'ellipse', axes_um: [2.4] } });
cfgCase('config ellipse axes_um = [2.4, 0]', { particle: { shape: 'ellipse', axes_um: [2.4, 0] } });
cfgCase('config ellipse angleDeg = "north"', { particle: { shape: 'ellipse', axes_um: [2.4, 1.6], angleDeg: 'north' } });
cfgCase('config disk with axes_um (key of another shape)', { particle: { shape: 'disk', diameter_um: 2.4, axes_um: [2, 1] } });
cfgCase('config polygon with 2 vertices', { particle: { shape: 'polygon', vertices_um: [[0, 0], [2, 0]] } });
cfgCase('config polygon self-intersecting (bow tie)', { particle: { shape: 'polygon', vertices_um: [[0, 0], [2, 2], [2, 0], [0, 2]] } });
cfgCase('config polygon collinear vertices', { particle: { shape: 'polygon', vertices_um: [[0, 0], [1, 0], [2, 0]] } });
cfgCase('config polygon all vertices equal', { particle: { shape: 'polygon', vertices_um: [[1, 1], [1, 1], [1, 1]] } });
cfgCase('config polygon vertex ["1", 0] (string)', { particle: { shape: 'polygon', vertices_um: [[0, 0], ['1', 0], [0, 1]] } });
cfgCase('config polygon vertex with 3 numbers', { particle: { shape: 'polygon', vertices_um: [[0, 0, 0], [2, 0, 0], [0, 2, 0]] } });
cfgCase('config polygon of 0.01 µm (smaller than a cell)', { particle: { shape: 'polygon', vertices_um: [[0, 0], [0.01, 0], [0, 0.01]] } });
cfgCase('config polygon flat as [x…],[y…] lists', { particle: { shape: 'polygon', vertices_um: [[0, 2, 2, 0], [0, 0, 2, 2]] } });
cfgCase('config mask file missing', { particle: { shape: 'mask', file: 'nope.png', pixel_um: 0.1 } });
cfgCase('config mask file empty (0 bytes)', { particle: { shape: 'mask', file: 'mask-empty.png', pixel_um: 0.1 } });
cfgCase('config mask file is text', { particle: { shape: 'mask', file: 'mask-text.png', pixel_um: 0.1 } });
cfgCase('config mask file truncated PNG', { particle: { shape: 'mask', file: 'mask-truncated.png', pixel_um: 0.1 } });
cfgCase('config mask file is a folder', { particle: { shape: 'mask', file: 'mask-folder.png', pixel_um: 0.1 } });
cfgCase('config mask 3-channel (RGB) PNG', { particle: { shape: 'mask', file: 'mask-rgb.png', pixel_um: 0.1 } }, { want: [0, 1] });
cfgCase('config mask 16-bit PNG', { particle: { shape: 'mask', file: 'mask-16bit.png', pixel_um: 0.1 } }, { want: [0, 1] });
cfgCase('config mask all zero', { particle: { shape: 'mask', file: 'mask-zero.png', pixel_um: 0.1 } });
cfgCase('config mask of 4 pixels', { particle: { shape: 'mask', file: 'mask-tiny.png', pixel_um: 0.1 } });
cfgCase('config mask all ones (touches the border)', { particle: { shape: 'mask', file: 'mask-full.png', pixel_um: 0.1 } }, { want: [0, 1] });
cfgCase('config mask without pixel_um', { particle: { shape: 'mask', file: 'mask.png' } });
cfgCase('config mask pixel_um = 0', { particle: { shape: 'mask', file: 'mask.png', pixel_um: 0 } });
cfgCase('config mask file = ""', { particle: { shape: 'mask', file: '', pixel_um: 0.1 } });
key('material.capacity_mAh_g', 0);
key('material.capacity_mAh_g', '275 mAh/g');
key('material.diffusivity', 'knee');
key('material.diffusivity.preset', 'nmc999');
cfgCase('config diffusivity constant D_m2_s = 1e-3 (cm²/s mix-up)', { 'material.diffusivity': { preset: 'constant', D_m2_s: 1e-3 } });
cfgCase('config diffusivity constant without D_m2_s', { 'material.diffusivity': { preset: 'constant' } });
cfgCase('config diffusivity constant D_m2_s = -1e-14', { 'material.diffusivity': { preset: 'constant', D_m2_s: -1e-14 } });
cfgCase('config diffusivity table lengths differ', { 'material.diffusivity': { table: { theta: [0, 0.5, 1], D_m2_s: [1e-14, 1e-15] } } });
cfgCase('config diffusivity table theta decreasing', { 'material.diffusivity': { table: { theta: [1, 0.5, 0], D_m2_s: [1e-14, 1e-15, 1e-16] } } });
cfgCase('config diffusivity table theta outside [0,1]', { 'material.diffusivity': { table: { theta: [-1, 2], D_m2_s: [1e-14, 1e-15] } } }, { want: [1] });
cfgCase('config knee log10DLow > log10DHigh', { 'material.diffusivity': { preset: 'knee', log10DLow: -13, log10DHigh: -15 } });
cfgCase('config knee thetaKnee = 1.5', { 'material.diffusivity': { preset: 'knee', thetaKnee: 1.5 } });
cfgCase('config knee log10DHigh = 1e-14 (not a log)', { 'material.diffusivity': { preset: 'knee', log10DHigh: 1e-14 } });
key('initialTheta', 1.5);
key('initialTheta', -0.1);
key('initialTheta', 0.1, { want: 'refuse-or-warn', warn: /initialTheta|cut-?off|surfaceTheta/i, input: 'config initialTheta = 0.1, below cutoff.surfaceTheta 0.2 (charge)' });
key('surface.normalize', 'total');
key('surface.segments', { fromDeg: 0, toDeg: 90, eta: 0.5 });
key('surface.segments', [{ fromDeg: 0, toDeg: 90, eta: 1.5 }]);
key('surface.segments', [{ fromDeg: 0, toDeg: 90, eta: -0.1 }]);
key('surface.segments', [{ fromDeg: 90, toDeg: 90, eta: 0.5 }]);
key('surface.segments', [{ fromDeg: 0, toDeg: 120, eta: 0.5 }, { fromDeg: 90, toDeg: 200, eta: 0.3 }]);
key('surface.segments', [{ fromDeg: 0, toDeg: 180, eta: 0 }, { fromDeg: 180, toDeg: 360, eta: 0 }]);
key('surface.segments', [{ fromDeg: 0, toDeg: 720, eta: 0.5 }]);
key('surface.segments', [{ fromDeg: 0, toDeg: 90 }]);
key('surface.segments', [{ from: 0, to: 90, eta: 0.5 }]);
key('cutoff.surfaceTheta', 1.5);
cfgCase('config cut-offs inverted (surfaceTheta 0.8 > surfaceThetaMax 0.5)', { cutoff: { surfaceTheta: 0.8, surfaceThetaMax: 0.5 } });
key('cutoff.surfaceTheta', 1);
key('snapshots_min', [0.5, 0.5001]);
key('snapshots_min', [-1]);
key('snapshots_min', 5);
key('snapshots_min', [100], { want: 'refuse-or-warn', warn: /snapshot/i, input: 'config snapshots_min = [100] (the protocol lasts 1 min)' });
key('optics.kappa', 0);
key('optics.psfSigma_um', 1000, { input: 'config optics.psfSigma_um = 1000 (a PSF of 1 mm)' });
cfgCase('config diffusivity constant D_m2_s = 1e-5 (the top of the allowed range)', { 'material.diffusivity': { preset: 'constant', D_m2_s: 1e-5 } }, { want: [0, 1], timeoutMs: 20_000 });
key('optics.psfSigma_um', -1);
key('optics.pixel_um', 1e-5);
key('optics.unreactedThreshold', 'low');
key('output.traceInterval_s', 0);
key('output.traceInterval_s', 1e-6);

// -- simulate: --set
add('simulate', '--set without = (grid.spacing_um)', preset(['grid.spacing_um']));
add('simulate', '--set with an empty key (=5)', preset(['=5']));
add('simulate', '--set __proto__.polluted=1', preset(['__proto__.polluted=1']));
add('simulate', '--set grid..spacing_um=0.1', preset(['grid..spacing_um=0.1']));
add('simulate', '--set grid.spacing_um= (no value)', preset(['grid.spacing_um=']));
add('simulate', '--set grid.spacing_um=0,1 (decimal comma)', preset(['grid.spacing_um=0,1']));
add('simulate', '--set grid.spacing_um=NaN', preset(['grid.spacing_um=NaN']));
add('simulate', '--set grid.spacing_um=Infinity', preset(['grid.spacing_um=Infinity']));
add('simulate', '--set grid.spacing_um=1e400 (parses as Infinity)', preset(['grid.spacing_um=1e400']));
add('simulate', '--set grid.spacing_um=-0', preset(['grid.spacing_um=-0']));
add('simulate', '--set protocol.0.current_mA_g=abc', preset(['protocol.0.current_mA_g=abc']));
add('simulate', '--set protocol=[{"step":"charge"}] (no current, no duration)', preset(['protocol=[{"step":"charge"}]']));
add('simulate', '--set particle.shape=ellipse on a disk preset', preset(['particle.shape=ellipse']));
add('simulate', '--set particle.shape=mask on a disk preset', preset(['particle.shape=mask']));
add('simulate', '--set particle.diameter_um=2.4um (unit in the value)', preset(['particle.diameter_um=2.4um']));
add('simulate', '--set surface.segments.0.eta=0.5 (no such segment)', preset(['surface.segments.0.eta=0.5']));
add('simulate', '--set cutoff.surfaceTheta=0.2 twice, second NaN', preset(['cutoff.surfaceTheta=0.2', 'cutoff.surfaceTheta=NaN']));
add('simulate', '--set grid.spacing_um=−0.1 (Unicode minus, pasted from a paper)', preset(['grid.spacing_um=−0.1']));
add('simulate', '--set grid.spacing_um=null', preset(['grid.spacing_um=null']));
add('simulate', '--backend gpu (a real GPU, or only a software one)', ['simulate', '--preset', 'fig4a', '--set', 'grid.spacing_um=0.1', '--set', 'protocol=[{"step":"charge","current_mA_g":100,"duration_min":1}]', '--set', 'snapshots_min=[]', '--backend', 'gpu', '--quiet', '--out', OUT], { want: [0, 2] });

// options a newer CLI has (read from --help): their cases are added only when the option exists
const helpOf = (cmd) => spawnSync(process.execPath, [CLI, cmd, '--help'], { encoding: 'utf8' }).stdout ?? '';
const HELP = { simulate: helpOf('simulate'), analyze: helpOf('analyze'), bench: helpOf('bench'), sweep: helpOf('sweep'), synth: helpOf('synth') };
if (/--theta-range\b/.test(HELP.simulate)) {
  for (const [v, want] of [['0.9,0.1', 1], ['0.5', 1], ['a,b', 1], ['0.5,0.5', 1], ['NaN,1', 1], ['-1,2', [0, 1]]]) {
    add('simulate', `--theta-range ${v}`, preset([]).concat(['--theta-range', v]), { want });
  }
}

// -- analyze
const an = (movie, extra = []) => ['analyze', movie, ...fast, ...extra]; // the case's flags last: commander keeps the last value
add('analyze', 'MOVIE missing', an('in/nope.tif'));
add('analyze', 'MOVIE empty file (0 bytes)', an('in/empty.tif'));
add('analyze', 'MOVIE text file named .tif', an('in/notes.tif'));
add('analyze', 'MOVIE TIFF header only (8 bytes)', an('in/header-only.tif'));
add('analyze', 'MOVIE truncated TIFF (half the file)', an('in/truncated.tif'));
add('analyze', 'MOVIE strip byte counts that lie (10 bytes a page)', an('in/lying-counts.tif'));
add('analyze', 'MOVIE TIFF with one page', an('in/one-page.tif'), { want: 'refuse-or-warn', warn: /one frame|single frame|1 frame|at least 2/i });
add('analyze', 'MOVIE TIFF pages of 0×0 pixels', an('in/zero-size.tif'));
add('analyze', 'MOVIE frames of 1×1 pixel', an('in/1x1.tif'), { want: [0, 1] });
add('analyze', 'MOVIE frames of 400×3 pixels', an('in/thin.tif'), { want: [0, 1] });
add('analyze', 'MOVIE 3-channel (RGB) TIFF', an('in/rgb.tif'), { want: [0, 1] });
add('analyze', 'MOVIE float64 TIFF', an('in/float64.tif'), { want: [0, 1] });
add('analyze', 'MOVIE float16 TIFF', an('in/float16.tif'));
add('analyze', 'MOVIE 1-bit TIFF', an('in/1bit.tif'));
add('analyze', 'MOVIE pages of different sizes', an('in/mixed-pages.tif'));
add('analyze', 'MOVIE float32 with NaN pixels', an('in/nan.tif'), { want: 'refuse-or-warn', warn: /NaN|finite/i });
add('analyze', 'MOVIE all pixels 0 (I0 = 0)', an('in/all-zero.tif'), { want: 'refuse-or-warn', warn: /zero|I0|dark|no particle/i });
add('analyze', 'MOVIE all pixels saturated (65535)', an('in/saturated.tif'), { want: 'refuse-or-warn', warn: /saturat|no particle/i });
add('analyze', 'MOVIE OME-TIFF with broken OME-XML', an('in/ome-broken.ome.tif'), { want: [0, 1] });
add('analyze', 'MOVIE OME-TIFF with 2 channels interleaved (SizeC=2)', an('in/ome-2channels.ome.tif'), { want: 'refuse-or-warn', warn: /channel|SizeC/i });
add('analyze', 'MOVIE OME-TIFF says SizeT=8, has 4 pages', an('in/ome-wrong-count.ome.tif'), { want: 'refuse-or-warn', warn: /SizeT|pages/i });
add('analyze', 'MOVIE a single PNG', an('in/single.png'));
add('analyze', 'MOVIE empty folder', an('in/empty-folder'));
add('analyze', 'MOVIE folder without images', an('in/notes-folder'));
add('analyze', 'MOVIE folder of mixed frame sizes', an('in/mixed-sizes'));
add('analyze', 'MOVIE folder with one frame', an('in/one-frame'), { want: 'refuse-or-warn', warn: /one frame|single frame|1 frame|at least 2/i });
add('analyze', 'MOVIE folder with a corrupt PNG', an('in/corrupt-frame'));
add('analyze', 'MOVIE folder holding a multi-page TIFF', an('in/stack-in-folder'));
add('analyze', 'MOVIE folder mixing 8-bit PNG and 16-bit TIFF frames', an('in/png-and-tif'), { want: 'refuse-or-warn', warn: /bit|sample type|depth|mix/i });
add('analyze', '--reference 99 (8 frames)', an('in/movie.tif', ['--reference', '99']));
add('analyze', '--reference 8 (one past the last)', an('in/movie.tif', ['--reference', '8']));
add('analyze', '--reference -1', an('in/movie.tif', ['--reference', '-1']));
add('analyze', '--reference 1.5', an('in/movie.tif', ['--reference', '1.5']));
add('analyze', '--reference first', an('in/movie.tif', ['--reference', 'first']));
add('analyze', '--capacity missing file', an('in/movie.tif', ['--capacity', 'in/nope.csv']));
add('analyze', '--capacity empty file', an('in/movie.tif', ['--capacity', 'in/cap-empty.csv']));
add('analyze', '--capacity columns time,cap', an('in/movie.tif', ['--capacity', 'in/cap-columns.csv']));
add('analyze', '--capacity non-numeric value', an('in/movie.tif', ['--capacity', 'in/cap-text.csv']));
add('analyze', '--capacity time decreasing', an('in/movie.tif', ['--capacity', 'in/cap-decreasing.csv']));
add('analyze', '--capacity repeated time', an('in/movie.tif', ['--capacity', 'in/cap-duplicate-time.csv']));
add('analyze', '--capacity header only', an('in/movie.tif', ['--capacity', 'in/cap-header-only.csv']));
add('analyze', '--capacity semicolon-separated (European Excel)', an('in/movie.tif', ['--capacity', 'in/cap-semicolon.csv']));
add('analyze', '--capacity binary file', an('in/movie.tif', ['--capacity', 'in/cap-binary.csv']));
add('analyze', '--capacity whose times miss the movie (1000…2000 s)', an('in/movie.tif', ['--frame-s', '1', '--capacity', 'in/cap-late.csv']), { want: 'refuse-or-warn', warn: /capacity|time range|overlap|outside/i });
add('analyze', '--capacity is a folder', an('in/movie.tif', ['--capacity', 'in/empty-folder']));
add('analyze', '--mask missing', an('in/movie.tif', ['--mask', 'in/nope.png']));
add('analyze', '--mask 32×32 for a 48×48 movie', an('in/movie.tif', ['--mask', 'in/mask.png']));
add('analyze', '--mask all zero', an('in/movie.tif', ['--mask', 'in/mask-48-zero.png']), { want: 'refuse-or-warn', warn: /mask/i });
add('analyze', '--mask text file', an('in/movie.tif', ['--mask', 'in/mask-text.png']));
add('analyze', '--mask empty file', an('in/movie.tif', ['--mask', 'in/mask-empty.png']));
for (const [flag, values] of Object.entries({
  '--pixel-um': ['0', '-1', 'abc', 'NaN', 'Infinity', ''],
  '--frame-s': ['0', '-2'],
  '--time-offset-s': ['abc'],
  '--threshold': ['NaN', '5%', '5'],
  '--asym-threshold': ['-1'],
  '--asym-window': ['0.9,0.2', '0.5', '0,2'],
  '--min-area-px': ['0', '2.5'],
  '--connectivity': ['6'],
  '--seg-sigma-px': ['-1'],
  '--seg-threshold': ['abc'],
  '--max-drift-px': ['0'],
  '--drift-threads': ['9', '-1'],
  '--smooth-px': ['-1', '1.5', '1000'],
  '--line-angle': ['abc'],
  '--kymo-axis': ['space'],
  '--montage-frames': ['a,b', '', '-1'],
  '--diff-range': ['0'],
  '--batch': ['0', '1e9'],
  '--backend': ['quantum'],
})) {
  for (const v of values) {
    const big = flag === '--batch' && v === '1e9';
    add('analyze', `${flag} ${v === '' ? "''" : v}`, an('in/movie.tif', [flag, v]), big ? { want: [0, 1] } : {});
  }
}
add('analyze', '--montage-frames 0,99 (8 frames)', an('in/movie.tif', ['--montage-frames', '0,99']));
add('analyze', 'a folder\'s frames given one by one (the shell expanded frames/*.tif)', an('in/movie.tif', ['in/movie.tif', 'in/movie.tif']));
add('analyze', '--min-area-px 1000000 (no particle that large)', an('in/movie.tif', ['--min-area-px', '1000000']), { want: 'refuse-or-warn', warn: /no particle/i });
add('analyze', '--seg-threshold 1e9 (nothing segmented)', an('in/movie.tif', ['--seg-threshold', '1e9']), { want: 'refuse-or-warn', warn: /no particle/i });
add('analyze', '--pixel-um 1e6 (metres typed as µm)', an('in/movie.tif', ['--pixel-um', '1e6']), { want: 'refuse-or-warn', warn: /implausib|unlikely|too large|very large|--pixel-um/i });

// -- analyze: HDF5 movies (the readers' new inputs)
const h5 = (file, input, want = 1, warn = undefined) => add('analyze', `HDF5 ${input}`, an(`in/h5/${file}`), { want, warn, needs: file === 'text.h5' || file === 'empty.h5' ? null : 'hdf5' });
h5('good.h5', 'valid (8, 48, 48) uint16 movie (control)', 0);
h5('text.h5', 'text file named .h5');
h5('empty.h5', '0-byte file named .h5');
h5('truncated.h5', 'truncated (half the file)');
h5('nodata.h5', 'no dataset (an empty group)');
h5('frame2d.h5', 'one 2-D image, no time axis');
h5('one-frame.h5', 'a (1, 48, 48) stack', 'refuse-or-warn', /one frame|single frame|1 frame|at least 2/i);
h5('zero-frames.h5', 'a (0, 48, 48) stack');
h5('two-stacks.h5', 'two 3-D datasets (which one?)', 'refuse-or-warn', /dataset/i);
h5('strings.h5', 'a dataset of strings');
h5('compound.h5', 'a compound-type dataset');
h5('4d.h5', 'a 4-D (t, c, y, x) dataset');
h5('float64.h5', 'float64 movie', [0, 1]);
h5('nan.h5', 'float32 movie with NaN pixels', 'refuse-or-warn', /NaN|finite/i);
h5('gzip.h5', 'gzip-compressed chunks', [0, 1]);
h5('lzf.h5', 'LZF-compressed chunks (a filter outside the HDF5 core)', [0, 1]);
h5('nested.h5', 'movie at /exchange/data (APS convention)', [0, 1]);
// the option that names the HDF5 dataset, if the reader has one (its name is read from --help)
const datasetFlag = (HELP.analyze.match(/--[\w-]*dataset[\w-]*/) ?? [])[0];
if (/--channel\b/.test(HELP.analyze)) {
  add('analyze', '--channel 3 for an RGB TIFF (channels 0…2)', an('in/rgb.tif', ['--channel', '3']));
  add('analyze', '--channel 2 for an OME-TIFF with SizeC=2', an('in/ome-2channels.ome.tif', ['--channel', '2']));
  add('analyze', '--channel -1', an('in/rgb.tif', ['--channel', '-1']));
  add('analyze', '--channel red', an('in/rgb.tif', ['--channel', 'red']));
  add('analyze', '--channel 1 for a one-channel movie', an('in/movie.tif', ['--channel', '1']));
  add('analyze', '--channel 1 for a folder of grey PNGs', an('in/frames', ['--channel', '1']));
  add('analyze', '--channel 1 for an HDF5 movie', an('in/h5/good.h5', ['--channel', '1']), { want: 'refuse-or-warn', warn: /channel/i, needs: 'hdf5' });
}
if (/--diff-stack\b/.test(HELP.analyze)) {
  add('analyze', '--diff-stack none', an('in/movie.tif', ['--diff-stack', 'none']));
  add('analyze', '--diff-stack particles with no particle found', an('in/saturated.tif', ['--diff-stack', 'particles']), { want: 'refuse-or-warn', warn: /no particle/i });
}
if (datasetFlag) {
  add('analyze', `HDF5 ${datasetFlag} /nope (no such dataset)`, an('in/h5/two-stacks.h5', [datasetFlag, '/nope']), { needs: 'hdf5' });
  add('analyze', `HDF5 ${datasetFlag} naming a group`, an('in/h5/nested.h5', [datasetFlag, '/exchange']), { needs: 'hdf5' });
  add('analyze', `HDF5 ${datasetFlag} given for a TIFF movie`, an('in/movie.tif', [datasetFlag, '/movie']), { want: 'refuse-or-warn', warn: /dataset|HDF5/i });
}

// -- bench (every case fails before the benchmark would run)
add('bench', '--only nothing-matches', ['bench', '--only', 'nothing-matches', '--backend', 'cpu', '--json', 'out/b.json']);
add('bench', '--json into a missing folder', ['bench', '--quick', '--backend', 'cpu', '--json', 'no/such/folder/b.json'], { want: [1, 2] });
add('bench', "--json over a user's file", ['bench', '--quick', '--backend', 'cpu', '--json', 'in/bench-user.json'], {
  check: (c) => (readFileSync(path.join(c.dir, 'in/bench-user.json'), 'utf8') === '{"my": "notes"}\n' ? null : "the user's file was changed"),
});
add('bench', '--json is a folder', ['bench', '--quick', '--backend', 'cpu', '--json', 'in/empty-folder']);
add('bench', '--json /proc/b.json', ['bench', '--quick', '--backend', 'cpu', '--json', '/proc/b.json'], { want: [1, 2] });
add('bench', '--backend quantum', ['bench', '--quick', '--backend', 'quantum', '--json', 'out/b.json']);

// -- synth: the camera and the particles in the field of view
const synthPreset = (sets) => ['synth', '--preset', 'fig4a', ...sets.flatMap((x) => ['--set', x]), ...fast];
add('synth', 'synth.frame_s = -5', synthPreset(['synth.frame_s=-5']));
add('synth', 'synth.frame_s = 0', synthPreset(['synth.frame_s=0']));
add('synth', 'unknown key synth.fps', synthPreset(['synth.fps=10']));
add('synth', 'synth.photons = "many"', synthPreset(['synth.photons=many']));
add('synth', 'synth.noise.gain_e_per_adu = 0', synthPreset(['synth.noise.gain_e_per_adu=0']));
add('synth', 'synth.fieldOfView_px = [10, 10] (smaller than the particle)', synthPreset(['synth.fieldOfView_px=[10,10]']));
add('synth', 'two particles at the same place', synthPreset(['synth.particles=[{"position_um":[3,3]},{"position_um":[3,3]}]']));
add('synth', 'one particle without position_um (it is centred)', synthPreset(['synth.particles=[{}]']), { want: [0, 1] });
add('synth', 'two particles, the second without position_um', synthPreset(['synth.particles=[{"position_um":[3,3]},{}]']));
add('synth', 'optics.preset = "microscope"', synthPreset(['optics.preset=microscope']));
add('synth', 'synth.fieldOfView_px = "sensor" without a rig', synthPreset(['synth.fieldOfView_px=sensor']));

// -- compare and fit: the observed movie, the simulated side, the fit's model
const cmpOut = ['--quiet', '--out', OUT];
add('compare', '--sim a folder that does not exist', ['compare', '--sim', 'in/no-such-sim', '--observed', 'in/movie.tif', ...cmpOut]);
add('compare', '--observed a text file', ['compare', '--sim', 'in/no-such-sim', '--observed', 'in/user-file.txt', ...cmpOut]);
add('compare', '--sim a folder without summary.json', ['compare', '--sim', 'in', '--observed', 'in/movie.tif', ...cmpOut]);
add('compare', '--particle 99 (not in the movie)', ['compare', '--sim', OUT + '-sim', '--observed', 'in/movie.tif', '--particle', '99', ...cmpOut], {
  setup: (c) => runSync([...okSim, '--set', 'snapshots_min=[0.5,1]', '--out', `${c.outRel}-sim`], c.dir),
});
add('compare', '--align charge without charge records', ['compare', '--sim', 'in/movie.tif', '--observed', 'in/movie.tif', '--align', 'charge', ...cmpOut]);
add('compare', '--align sideways', ['compare', '--sim', 'in/movie.tif', '--observed', 'in/movie.tif', '--align', 'sideways', ...cmpOut]);
add('fit', '--model spline', ['fit', '--observed', 'in/movie.tif', '--model', 'spline', '--backend', 'cpu', ...cmpOut]);
add('fit', '--model bins:1', ['fit', '--observed', 'in/movie.tif', '--model', 'bins:1', '--backend', 'cpu', ...cmpOut]);
add('fit', '--particle 99 (not in the movie)', ['fit', '--observed', 'in/movie.tif', '--particle', '99', '--backend', 'cpu', ...cmpOut]);
add('fit', '--kappa -1', ['fit', '--observed', 'in/movie.tif', '--kappa', '-1', '--backend', 'cpu', ...cmpOut]);
add('fit', '--observed missing', ['fit', '--observed', 'in/nope.tif', '--backend', 'cpu', ...cmpOut]);
add('compare', '--sim a folder without snapshots at the movie\'s frame times', ['compare', '--sim', OUT + '-sim', '--observed', 'in/movie.tif', '--align', 'time', ...cmpOut], {
  setup: (c) => runSync([...okSim, '--set', 'snapshots_min=[0.5,1]', '--out', `${c.outRel}-sim`], c.dir),
});
// a small synth movie (fig4a, 2.4 µm, 3 frames a minute apart, its capacity.csv beside it) for the fit cases
const synthSmall = (rel, sets = []) => ['synth', '--preset', 'fig4a', '--set', 'grid.spacing_um=0.08', '--set', 'protocol=[{"step":"charge","current_mA_g":100,"duration_min":2}]', '--set', 'synth.frame_s=60', ...sets.flatMap((x) => ['--set', x]), '--backend', 'cpu', '--quiet', '--out', rel];
add('fit', 'a movie without a charge record and no --current-mA-g', ['fit', '--observed', 'in/fit-nocap/movie.tif', '--backend', 'cpu', ...cmpOut], {
  setup: (c) => { runSync(synthSmall('in/fit-nocap'), c.dir); rmSync(path.join(c.dir, 'in/fit-nocap/capacity.csv')); },
});
add('fit', 'a particle too small to fit (0.4 µm across: 79 pixels)', ['fit', '--observed', 'in/fit-tiny/movie.tif', '--backend', 'cpu', ...cmpOut], {
  setup: (c) => runSync(synthSmall('in/fit-tiny', ['particle.diameter_um=0.4', 'grid.spacing_um=0.02']), c.dir),
});
add('fit', 'a movie that does not react (0.001 mA/g): the optimiser cannot improve', ['fit', '--observed', 'in/fit-flat/movie.tif', '--generations', '2', '--backend', 'cpu', ...cmpOut], {
  setup: (c) => runSync(synthSmall('in/fit-flat', ['protocol=[{"step":"charge","current_mA_g":0.001,"duration_min":2}]']), c.dir),
  want: 'refuse-or-warn', warn: /did not improve|does not rise|no frame/,
});

// -- sweep: the spec, shards, folders, merge
/** a spec file in the case's folder; `spec` is the object (or raw text) */
const sweepSpec = (c, spec) => { const f = `in/s${c.id}.json`; writeFileSync(path.join(c.dir, f), typeof spec === 'string' ? spec : JSON.stringify(spec)); return f; };
const smallBase = { config: { particle: { shape: 'disk', diameter_um: 1 }, grid: { spacing_um: 0.1 }, protocol: [{ step: 'charge', current_mA_g: 100, duration_min: 1 }] } };
const okSpec = { base: smallBase, grid: { 'protocol.0.current_mA_g': [100, 200] } };
const sweepCase = (input, spec, extra = [], opts = {}) => add('sweep', input, (c) => ['sweep', '--spec', sweepSpec(c, spec), ...extra, ...fast], opts);
add('sweep', 'neither --spec nor --preset', ['sweep', ...fast]);
add('sweep', '--preset fig5c (unknown)', ['sweep', '--preset', 'fig5c', ...fast]);
add('sweep', '--spec file missing', ['sweep', '--spec', 'in/nope.json', ...fast]);
sweepCase('--spec not JSON', '{"base": {"preset": "fig4a"}, grid: }');
sweepCase('spec without base', { grid: { 'protocol.0.current_mA_g': [100] } });
sweepCase('spec with nothing to sweep', { base: smallBase });
sweepCase('unknown top-level key (gird)', { base: smallBase, gird: { initialTheta: [1] } });
sweepCase('unknown axis key (grid.spacing)', { base: smallBase, grid: { 'grid.spacing': [0.1] } });
sweepCase('empty axis', { base: smallBase, grid: { 'protocol.0.current_mA_g': [] } });
sweepCase('axis value not a list', { base: smallBase, grid: { 'protocol.0.current_mA_g': 100 } });
sweepCase('zip lists of different lengths', { base: smallBase, zip: { 'protocol.0.current_mA_g': [100, 200], initialTheta: [1] } });
sweepCase('a run whose config fails validation (current -5)', { base: smallBase, grid: { 'protocol.0.current_mA_g': [100, -5] } });
sweepCase('a run whose mask file is missing', { base: { config: { ...smallBase.config, particle: { shape: 'mask', file: 'gone.png', pixel_um: 0.05 } } }, runs: [{ initialTheta: 1 }] });
sweepCase('plot.x not a swept key', { ...okSpec, plot: { x: 'optics.kappa' } });
sweepCase('--shard-index 2 of --shard-count 2', okSpec, ['--shard-index', '2', '--shard-count', '2']);
sweepCase('--shard-index without --shard-count', okSpec, ['--shard-index', '0']);
sweepCase('--jobs 0', okSpec, ['--jobs', '0']);
sweepCase("--out a user's folder (with data.csv)", okSpec, [], {
  setup: (c) => { mkdirSync(c.out, { recursive: true }); writeFileSync(path.join(c.out, 'data.csv'), 'mine\n'); },
  check: (c) => (readdirSync(c.out).join() === 'data.csv' ? null : `the folder now holds ${readdirSync(c.out).join(', ')}`),
});
sweepCase('--out the folder of another sweep (runs dropped)', { base: smallBase, grid: { 'protocol.0.current_mA_g': [300] } }, [], {
  setup: (c) => runSync(['sweep', '--spec', sweepSpec({ id: `${c.id}-first` , dir: c.dir }, okSpec), '--backend', 'cpu', '--quiet', '--out', c.outRel], c.dir),
  check: (c) => (readdirSync(path.join(c.out, 'runs')).length === 2 ? null : 'the earlier runs were changed'),
});
sweepCase('--out a simulate output folder', okSpec, [], { setup: (c) => runSync([...okSim, '--out', c.outRel], c.dir) });
add('sweep', '--jobs two', ['sweep', '--preset', 'fig5b', '--jobs', 'two', ...fast]);
add('sweep', '--shard-count 0', ['sweep', '--preset', 'fig5b', '--shard-index', '0', '--shard-count', '0', ...fast]);
add('sweep', '--dry-run of an unknown preset', ['sweep', '--preset', 'fig5z', '--dry-run']);
add('sweep', 'merge: a folder that is not a sweep', ['sweep', 'merge', 'in', '--out', OUT]);
add('sweep', 'merge: a missing shard', (c) => {
  const f = sweepSpec(c, okSpec);
  runSync(['sweep', '--spec', f, '--shard-index', '0', '--shard-count', '2', '--backend', 'cpu', '--quiet', '--out', 'out/s0'], c.dir);
  return ['sweep', 'merge', 'out/s0', '--out', OUT];
});
add('sweep', 'merge: shards of two different sweeps', (c) => {
  const a = sweepSpec(c, okSpec);
  const b = sweepSpec({ id: `${c.id}-b`, dir: c.dir }, { base: smallBase, grid: { 'protocol.0.current_mA_g': [100, 300] } });
  runSync(['sweep', '--spec', a, '--shard-index', '0', '--shard-count', '2', '--backend', 'cpu', '--quiet', '--out', 'out/a0'], c.dir);
  runSync(['sweep', '--spec', b, '--shard-index', '1', '--shard-count', '2', '--backend', 'cpu', '--quiet', '--out', 'out/b1'], c.dir);
  return ['sweep', 'merge', 'out/a0', 'out/b1', '--out', OUT];
});

// -- the output folder
const okSim = ['simulate', '--preset', 'fig4a', '--set', 'grid.spacing_um=0.1', '--set', 'protocol=[{"step":"charge","current_mA_g":100,"duration_min":1}]', '--set', 'snapshots_min=[]', '--backend', 'cpu', '--quiet'];
const slowSim = ['simulate', '--preset', 'fig4a', '--backend', 'cpu', '--quiet'];
const unchangedFile = (rel, text) => (c) => (existsSync(path.join(c.dir, rel)) && readFileSync(path.join(c.dir, rel), 'utf8') === text ? null : `${rel} was changed or removed`);
add('output', "--out is a user's file", [...okSim, '--out', 'in/user-file.txt'], { check: unchangedFile('in/user-file.txt', "a user's file\n") });
add('output', '--out below a file', [...okSim, '--out', 'in/user-file.txt/run1']);
add('output', "--out a symbolic link to a user's file", [...okSim, '--out', OUT], {
  setup: (c) => symlinkSync(path.join(c.dir, 'in/user-file.txt'), c.out),
  check: unchangedFile('in/user-file.txt', "a user's file\n"),
});
add('output', '--out a dangling symbolic link', [...okSim, '--out', OUT], { want: [0, 1], setup: (c) => symlinkSync(path.join(c.dir, 'in/no-such-target'), c.out) });
add('output', "--out a symbolic link to a user's folder", [...okSim, '--out', OUT], {
  setup: (c) => { mkdirSync(`${c.out}-target`); writeFileSync(`${c.out}-target/data.csv`, 'mine\n'); symlinkSync(`${c.out}-target`, c.out); },
  check: (c) => (readdirSync(`${c.out}-target`).join() === 'data.csv' ? null : `the folder now holds ${readdirSync(`${c.out}-target`).join(', ')}`),
});
add('output', '--out /proc/x', [...okSim, '--out', '/proc/x']);
add('output', '--out /dev/null', [...okSim, '--out', '/dev/null']);
add('output', "--out ''", [...okSim, '--out', '']);
add('output', "--out a user's folder (with data.csv)", [...okSim, '--out', OUT], {
  setup: (c) => { mkdirSync(c.out, { recursive: true }); writeFileSync(path.join(c.out, 'data.csv'), 'mine\n'); },
  check: (c) => (readdirSync(c.out).join() === 'data.csv' && readFileSync(path.join(c.out, 'data.csv'), 'utf8') === 'mine\n' ? null : `the folder now holds ${readdirSync(c.out).join(', ')}`),
});
add('output', 'an earlier output whose trace.csv the user edited', [...okSim, '--out', OUT], {
  setup: (c) => { runSync([...okSim, '--out', c.outRel], c.dir); writeFileSync(path.join(c.out, 'trace.csv'), 'my edit\n'); },
  check: unchangedFileAbs('trace.csv', 'my edit\n'),
});
add('output', 'analyze of a diff.tif inside the --out it would replace', ['analyze', '{OUT}/diff.tif', ...fast], {
  setup: (c) => runSync(['analyze', 'in/movie.tif', '--backend', 'cpu', '--quiet', '--out', c.outRel], c.dir),
  check: (c) => (existsSync(path.join(c.out, 'diff.tif')) ? null : 'diff.tif (the input) is gone'),
});
add('output', '--out a name of 300 characters', [...okSim, '--out', `out/${'x'.repeat(300)}`], { want: [1, 2] });
add('output', '--out an immutable empty folder (chattr +i)', [...okSim, '--out', OUT], {
  want: 2, needs: 'root',
  setup: (c) => { mkdirSync(c.out, { recursive: true }); sh('chattr', ['+i', c.out]); c.undo.push(() => sh('chattr', ['-i', c.out])); },
});
add('output', '--out a new folder inside an immutable folder', [...okSim, '--out', '{OUT}/run1'], {
  want: 2, needs: 'root',
  setup: (c) => { mkdirSync(c.out, { recursive: true }); sh('chattr', ['+i', c.out]); c.undo.push(() => sh('chattr', ['-i', c.out])); },
});
add('output', 'an earlier output, now immutable (chattr +i)', [...okSim, '--out', OUT], {
  want: 2, needs: 'root',
  setup: (c) => { runSync([...okSim, '--out', c.outRel], c.dir); sh('chattr', ['+i', c.out]); c.undo.push(() => sh('chattr', ['-i', c.out])); },
});
add('output', '--out on a read-only file system (ro bind mount)', [...okSim, '--out', '{OUT}/run1'], {
  want: 2, needs: 'root',
  setup: (c) => { mkdirSync(c.out, { recursive: true }); sh('mount', ['--bind', c.out, c.out]); c.undo.push(() => sh('umount', [c.out])); sh('mount', ['-o', 'remount,ro,bind', c.out]); },
});
add('output', '--out on a full disk (64 KiB tmpfs)', [...okSim, '--out', '{OUT}/run1'], {
  want: 2, needs: 'root',
  setup: (c) => { mkdirSync(c.out, { recursive: true }); sh('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', c.out]); c.undo.push(() => sh('umount', [c.out])); },
  check: (c) => (readdirSync(c.out).length === 0 ? null : `left ${readdirSync(c.out).join(', ')} on the disk`),
});
add('output', '--out on a disk that fills while writing (tmpfs, 1 MiB, 8 inodes)', [...okSim, '--set', 'snapshots_min=[0.1,0.2,0.3,0.4,0.5]', '--out', '{OUT}/run1'], {
  want: 2, needs: 'root',
  setup: (c) => { mkdirSync(c.out, { recursive: true }); sh('mount', ['-t', 'tmpfs', '-o', 'size=1m,nr_inodes=8', 'tmpfs', c.out]); c.undo.push(() => sh('umount', [c.out])); },
  check: (c) => (readdirSync(c.out).length === 0 ? null : `left ${readdirSync(c.out).join(', ')} on the disk`),
});
add('output', 'analyze --out on a full disk (64 KiB tmpfs)', ['analyze', 'in/movie.tif', '--backend', 'cpu', '--quiet', '--out', '{OUT}/run1'], {
  want: 2, needs: 'root',
  setup: (c) => { mkdirSync(c.out, { recursive: true }); sh('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', c.out]); c.undo.push(() => sh('umount', [c.out])); },
});
add('output', 'two runs into one --out at once (the second)', [...okSim, '--out', OUT], {
  want: 2,
  setup: async (c) => {
    const first = spawnCli([...slowSim, '--out', c.outRel], c.dir);
    c.undo.push(() => { first.child.kill('SIGKILL'); return first.done; });
    await waitFor(() => existsSync(`${c.out}.ionflux-lock`), 30_000);
  },
});

// -- commander usage errors
add('usage', 'unknown command (simulat)', ['simulat', '--preset', 'fig4a']);
add('usage', 'unknown option (simulate --spacing 0.1)', ['simulate', '--preset', 'fig4a', '--spacing', '0.1', '--out', OUT]);
add('usage', 'missing argument (analyze without MOVIE)', ['analyze', '--out', OUT]);
add('usage', 'missing required option (simulate without --out)', ['simulate', '--preset', 'fig4a']);
add('usage', 'option without its value (simulate --preset)', ['simulate', '--out', OUT, '--preset']);
add('usage', 'extra argument (simulate fig4a --out …)', ['simulate', 'fig4a', '--out', OUT]);
add('usage', 'two movies (analyze a.tif b.tif)', ['analyze', 'in/movie.tif', 'in/rgb.tif', '--out', OUT]);
add('usage', 'single-dash option (simulate -preset fig4a)', ['simulate', '-preset', 'fig4a', '--out', OUT]);
add('usage', 'a switch given a value (analyze --no-drift=false)', ['analyze', 'in/movie.tif', '--no-drift=false', '--backend', 'cpu', '--quiet', '--out', OUT]);
add('usage', 'a switch followed by a word (analyze --keep-border yes)', ['analyze', 'in/movie.tif', '--keep-border', 'yes', '--backend', 'cpu', '--quiet', '--out', OUT]);
add('usage', 'no command at all (prints the help)', [], { want: 'help' });

// -- signals part-way
const staged = (c) => () => readdirSync(path.dirname(c.out)).some((n) => n.startsWith(`${path.basename(c.out)}.partial-`));
const nothingLeft = (c) => {
  const left = readdirSync(path.dirname(c.out)).filter((n) => n === path.basename(c.out) || n.startsWith(`${path.basename(c.out)}.`));
  return left.length ? `left ${left.join(', ')}` : null;
};
add('signals', 'SIGINT part-way through simulate', [...slowSim, '--out', OUT], { want: 130, signal: 'SIGINT', ready: staged, check: nothingLeft });
add('signals', 'SIGTERM part-way through simulate', [...slowSim, '--out', OUT], { want: 143, signal: 'SIGTERM', ready: staged, check: nothingLeft });
add('signals', 'SIGINT part-way through analyze', ['analyze', 'in/long.tif', '--backend', 'cpu', '--quiet', '--out', OUT], { want: 130, signal: 'SIGINT', ready: staged, check: nothingLeft });
add('signals', 'SIGTERM while replacing an earlier output', [...slowSim, '--out', OUT], {
  want: 143, signal: 'SIGTERM', ready: staged,
  setup: (c) => { runSync([...okSim, '--out', c.outRel], c.dir); c.before = readFileSync(path.join(c.out, 'summary.json'), 'utf8'); },
  check: (c) => (readFileSync(path.join(c.out, 'summary.json'), 'utf8') === c.before ? null : 'the earlier summary.json was changed'),
});

const sweepSlow = { base: { preset: 'fig4a' }, grid: { 'protocol.0.current_mA_g': [100, 120, 140, 160, 180, 200] } };
const aRunFinished = (c) => () => existsSync(path.join(c.out, 'runs')) && readdirSync(path.join(c.out, 'runs')).some((n) => !n.startsWith('.'));
add('signals', 'SIGTERM part-way through a sweep (finished runs kept)', (c) => ['sweep', '--spec', sweepSpec(c, sweepSlow), '--jobs', '1', ...fast], {
  want: 143, signal: 'SIGTERM', ready: aRunFinished,
  check: (c) => {
    const names = readdirSync(path.join(c.out, 'runs'));
    if (names.some((n) => n.startsWith('.'))) return `left ${names.filter((n) => n.startsWith('.')).join(', ')}`;
    return names.length >= 1 && names.every((n) => existsSync(path.join(c.out, 'runs', n, 'summary.json'))) ? null : 'no finished run kept';
  },
});

/** Options in the CLI's --help that no case passes (so that new options get cases). */
function uncoveredOptions() {
  const used = { simulate: new Set(['--config', '--backend', '--quiet', '--out']), analyze: new Set(), bench: new Set(), sweep: new Set(['--spec', '--backend', '--quiet', '--out']), synth: new Set() };
  for (const c of cases) {
    if (typeof c.args === 'function' || !used[c.args[0]]) continue;
    for (const a of c.args) if (a.startsWith('--')) used[c.args[0]].add(a.split('=')[0]);
  }
  const out = [];
  for (const [cmd, help] of Object.entries(HELP)) {
    for (const m of help.matchAll(/^\s+(?:-\w, )?(--[\w-]+)/gm)) {
      if (!['--help', '--version'].includes(m[1]) && !used[cmd].has(m[1])) out.push(`${cmd} ${m[1]}`);
    }
  }
  return out;
}

function unchangedFileAbs(rel, text) {
  return (c) => (readFileSync(path.join(c.out, rel), 'utf8') === text ? null : `the user's ${rel} was changed`);
}

// ---------------------------------------------------------------------------------------------
// stage 3: running them

function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`);
}

function spawnCli(args, cwd) {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const done = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done, stderr: () => stderr };
}

function runSync(args, cwd) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: CASE_TIMEOUT_MS });
  if (r.status !== 0) throw new Error(`setup run failed (exit ${r.status}): ${(r.stderr || '').trim().split('\n').pop()}`);
}

async function waitFor(pred, ms) {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting for the run to start');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function runCase(c) {
  const p = spawnCli(c.argv, c.dir);
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; p.child.kill('SIGKILL'); }, c.timeoutMs ?? CASE_TIMEOUT_MS);
  if (c.signal) {
    try {
      await Promise.race([waitFor(c.ready(c), 60_000), p.done]);
      await new Promise((r) => setTimeout(r, 400));
      p.child.kill(c.signal);
    } catch { /* reported by the verdict */ }
  }
  const r = await p.done;
  clearTimeout(timer);
  return { ...r, timedOut };
}

/** informational lines on stderr (progress, warnings, notices), not the error message */
const INFO = /^(ionflux: warning: |ionflux (simulate|analyze|bench): |analyze: |simulate: )/;

function judge(c, r) {
  const lines = r.stderr.split(/\r\n|\n|\r/).map((l) => l.trimEnd()).filter((l) => l.trim());
  const messageLines = lines.filter((l) => !INFO.test(l));
  const message = messageLines.length ? messageLines[messageLines.length - 1] : lines.length ? lines[lines.length - 1] : '';
  const exit = r.timedOut ? 'timeout' : r.code ?? `killed by ${r.signal}`;
  const stack = lines.some((l) => /^\s+at /.test(l));
  const internal = /internal error/i.test(r.stderr);
  // a warning about this input (a case's `warn`), not any warning (e.g. the missing frame interval)
  // (the input's own path is taken out first: in/nan.tif must not count as a warning about NaN)
  const unpathed = (l) => c.argv.filter((a) => a.includes('/')).reduce((acc, a) => acc.split(a).join(''), l);
  const warnLine = lines.find((l) => /warning/i.test(l) && (!c.warn || c.warn.test(unpathed(l))));
  const warned = warnLine !== undefined;
  const wants = Array.isArray(c.want) ? c.want : [c.want];
  let verdict;
  if (r.timedOut) verdict = `FAIL: no answer in ${(c.timeoutMs ?? CASE_TIMEOUT_MS) / 1000} s (killed)`;
  else if (stack) verdict = 'FAIL: stack trace';
  else if (internal) verdict = 'FAIL: internal error';
  else if (c.want === 'help') verdict = r.code !== 0 && /Usage:/.test(r.stderr + r.stdout) ? 'OK (help)' : `FAIL: exit ${exit} without the help`;
  else if (r.code === 0) {
    const insane = c.argv[0] === 'simulate' ? physicsSanity(c) : null;
    if (insane) verdict = `FAIL: exit 0, but ${insane}`;
    else if (wants.includes(0)) verdict = 'OK (accepted)';
    else if (c.want === 'refuse-or-warn' && warned) verdict = 'OK (accepted, warned)';
    else verdict = c.want === 'refuse-or-warn' ? 'FAIL: accepted without a warning' : 'FAIL: accepted (exit 0)';
  } else {
    const allowed = c.want === 'refuse-or-warn' ? [1] : wants;
    if (!allowed.includes(r.code)) verdict = `FAIL: exit ${exit}, documented ${allowed.join(' or ')}`;
    else if (messageLines.length !== 1) verdict = `FAIL: ${messageLines.length} message lines`;
    else if (!message.startsWith('ionflux: ')) verdict = 'FAIL: not "ionflux: …"';
    else verdict = 'OK';
  }
  if (verdict.startsWith('OK') && c.check) {
    const why = c.check(c);
    if (why) verdict = `FAIL: ${why}`;
  }
  const shown = verdict === 'OK (accepted, warned)' ? warnLine : r.timedOut && !lines.length ? '(nothing printed before it was killed)' : r.code === 0 && !messageLines.length ? (lines.length ? lines[lines.length - 1] : '(accepted, nothing printed)') : message;
  return { exit, message: shown, verdict, lines: lines.length };
}

/** An accepted simulation must at least stay physical: θ in [0, 1], capacities finite and consistent. */
function physicsSanity(c) {
  let s;
  try { s = JSON.parse(readFileSync(path.join(c.out, 'summary.json'), 'utf8')); } catch { return 'it wrote no readable summary.json'; }
  const eps = 1e-6;
  for (const snap of s.snapshots ?? []) {
    for (const k of ['meanTheta', 'minSurfaceTheta']) {
      const v = snap[k];
      if (typeof v === 'number' && !(v >= -eps && v <= 1 + eps)) return `summary.json has ${k} = ${v.toPrecision(4)} (θ outside [0, 1])`;
      if (v === null) return `summary.json has ${k} = null (NaN?)`;
    }
  }
  const x = s.extractedCapacity_mAh_g, a = s.appliedCapacity_mAh_g;
  if (typeof x !== 'number' || !Number.isFinite(x)) return `summary.json has extractedCapacity_mAh_g = ${x}`;
  if (typeof a === 'number' && Math.abs(a) > 0 && Math.abs(x - a) > 0.05 * Math.abs(a) + 1) return `the charge passed (${a.toPrecision(4)} mAh/g) and the Li extracted (${x.toPrecision(4)} mAh/g) disagree`;
  return null;
}

function quote(a) {
  return a === '' ? "''" : /^[\w./=:,@+-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`;
}

// ---------------------------------------------------------------------------------------------
// stage 4: the document

function md(s) {
  // control bytes (a binary file's header quoted in a message) shown as \xNN, so that the page stays text
  return String(s).replace(/[\x00-\x09\x0b-\x1f\x7f]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`)
    .replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/\n/g, ' ');
}

const GROUPS = [
  ['simulate', 'simulate: config values, --set, presets, masks'],
  ['analyze', 'analyze: movies (TIFF, folders, OME-TIFF, HDF5), --capacity, --mask, numeric flags'],
  ['bench', 'bench'],
  ['synth', 'synth: camera, noise, particles in the field of view'],
  ['compare', 'compare: simulated vs observed'],
  ['fit', 'fit: the surface blocking from a movie'],
  ['sweep', 'sweep: specs, shards, sweep folders, merge'],
  ['output', 'the output folder (--out) and faults of the machine'],
  ['usage', 'usage errors (commander)'],
  ['signals', 'signals part-way'],
];

function writeDoc(results, skippedNotes, started, seconds) {
  const count = (p) => results.filter((r) => r.verdict.startsWith(p)).length;
  const head = `# Bad inputs and faults: what ionflux says

Generated by \`scripts/bad-inputs.mjs\`; do not edit by hand. Regenerate with

    npm run build && node scripts/bad-inputs.mjs      # or: npm run build && npm run bad-inputs

(a few minutes; root is needed for the immutable-folder, read-only and full-disk cases, and
\`/usr/bin/python3\` with h5py for the HDF5 files). The script runs the built CLI on each input below,
in a temporary folder it deletes afterwards, and judges what came back:

- **OK**: the documented exit code (1 bad input, 2 a fault of the machine, 130 / 143 stopped by
  SIGINT / SIGTERM) and a message of exactly one line starting \`ionflux: \`, with no stack trace and no
  "internal error". Odd but legitimate inputs (a colour TIFF) may instead be accepted, *OK (accepted)*;
  some must be refused or warned about (1e12 mA/g), *OK (accepted, warned)*. A few cases also check what
  the run left behind (the user's file unchanged, nothing left on a full disk).
- **FAIL**: anything else; the verdict says why.
- **SKIP**: the input could not be made on this machine.

Paths are relative to the temporary folder: \`in/\` holds the inputs, \`out/cN\` is case N's output.

Options of the CLI that no case passes: ${uncoveredOptions().map((o) => `\`${o}\``).join(', ') || 'none'}.

Run ${started} on ${os.type()} ${os.release()}, Node ${process.version}, ${seconds.toFixed(0)} s:
**${results.length} cases, ${count('OK')} OK, ${count('FAIL')} FAIL, ${count('SKIP')} SKIP.**
${skippedNotes.map((s) => `\nSkipped: ${s}.`).join('')}
`;
  const sections = GROUPS.map(([g, title]) => {
    const rows = results.filter((r) => r.group === g);
    const fails = rows.filter((r) => r.verdict.startsWith('FAIL')).length;
    return `## ${title} (${rows.length} cases, ${fails} FAIL)

| # | input | exit | message | verdict |
| --- | --- | --- | --- | --- |
${rows.map((r) => `| ${r.id} | ${md(r.input)}<br>\`${md(r.command)}\` | ${r.exit} | ${md(r.message.length > 400 ? `${r.message.slice(0, 399)}…` : r.message)} | ${r.verdict.startsWith('FAIL') ? `**${md(r.verdict)}**` : md(r.verdict)} |`).join('\n')}
`;
  });
  writeFileSync(DOC, `${head}\n${sections.join('\n')}`);
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const t0 = Date.now();
  const started = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ionflux-bad-inputs-'));
  // stopped part-way (Ctrl-C): unmount, make folders mutable again, and delete the temporary folder
  let current = null;
  const stop = (signal) => {
    for (const u of current?.undo.reverse() ?? []) { try { u(); } catch { /* best effort */ } }
    rmSync(dir, { recursive: true, force: true });
    console.error(`bad-inputs: stopped by ${signal}; docs/bad-inputs.md not written`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const isRoot = process.getuid?.() === 0;
  const results = [];
  let skippedNotes = [];
  // BAD_INPUTS_ONLY=text runs the cases whose "group: input" contains it and prints their whole stderr
  // (no document is written); BAD_INPUTS_KEEP=1 keeps the temporary folder
  const only = process.env.BAD_INPUTS_ONLY?.toLowerCase();
  const keep = process.env.BAD_INPUTS_KEEP === '1';
  try {
    skippedNotes = makeInputs(dir);
    if (skippedNotes.length) console.error(`bad-inputs: ${skippedNotes.join('; ')}: those cases are SKIP`);
    if (!isRoot) skippedNotes.push('the immutable-folder, read-only and full-disk cases need root');
    mkdirSync(path.join(dir, 'out'), { recursive: true });
    for (const [i, spec] of cases.entries()) {
      if (only && !`${spec.group}: ${spec.input}`.toLowerCase().includes(only)) continue;
      const c = { ...spec, id: i + 1, dir, undo: [] };
      current = c;
      c.outRel = `out/c${c.id}`;
      c.out = path.join(dir, c.outRel);
      let row;
      try {
        if (c.needs === 'hdf5' && skippedNotes.some((s) => s.startsWith('HDF5'))) throw Object.assign(new Error('no HDF5 files'), { skip: true });
        if (c.needs === 'root' && !isRoot) throw Object.assign(new Error('needs root'), { skip: true });
        if (c.setup) await c.setup(c);
        const args = typeof c.args === 'function' ? c.args(c) : c.args;
        c.argv = args.map((a) => a.replace('{OUT}', c.outRel));
        const r = await runCase(c);
        const j = judge(c, r);
        row = { ...j };
        if (only) console.log(`--- ${c.argv.map(quote).join(' ')}\n${r.stderr}--- exit ${j.exit}`);
      } catch (e) {
        row = { exit: '', message: e.message, verdict: e.skip ? `SKIP: ${e.message}` : `SKIP: ${e.message}` };
      } finally {
        for (const u of c.undo.reverse()) { try { await u(); } catch (e) { console.error(`bad-inputs: case ${c.id}: undo failed: ${e.message}`); } }
      }
      const command = `ionflux ${(c.argv ?? []).map(quote).join(' ')}`;
      const message = row.message.split(dir).join('.');
      results.push({ id: c.id, group: c.group, input: c.input, command, ...row, message });
      console.log(`${String(c.id).padStart(3)} ${c.group}: ${c.input} — ${row.verdict}`);
    }
  } finally {
    if (keep) console.log(`bad-inputs: kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
  const seconds = (Date.now() - t0) / 1000;
  const uncovered = uncoveredOptions();
  if (uncovered.length) console.log(`bad-inputs: options with no case: ${uncovered.join(', ')}`);
  if (only) return;
  writeDoc(results, skippedNotes, started, seconds);
  const fails = results.filter((r) => r.verdict.startsWith('FAIL')).length;
  console.log(`bad-inputs: ${results.length} cases, ${fails} FAIL, in ${seconds.toFixed(0)} s; wrote ${path.relative(process.cwd(), DOC) || DOC}`);
}

await main();
