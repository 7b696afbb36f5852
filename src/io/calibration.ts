/**
 * Calibration of a movie — pixel size (µm) and frame interval (s) — with where each value came from,
 * and the OME-XML reader for OME-TIFF (what Micro-Manager, Bio-Formats and tifffile write).
 *
 * Sources, as recorded in summary.json's `calibration`:
 *   ome-xml          OME-TIFF `<Pixels PhysicalSizeX/Y(+Unit) TimeIncrement(+Unit)>`
 *   imagej           ImageJ ImageDescription `unit`, `finterval`, `tunit` (with X/YResolution)
 *   tiff-resolution  plain TIFF X/YResolution with ResolutionUnit cm or inch
 *   hdf5-attribute   attributes of an HDF5 dataset or the file's root group (src/io/hdf5Movie.ts)
 *   flag             `--pixel-um` / `--frame-s`
 *   default          nothing said: 1 µm per pixel, 1 s per frame, with a warning
 */
import { UserError } from '../errors';

export type CalibrationSource = 'ome-xml' | 'imagej' | 'tiff-resolution' | 'hdf5-attribute' | 'flag' | 'default';

/** One calibration value and where it came from; `detail` says which tag or attribute. */
export interface CalibrationValue {
  value: number;
  source: CalibrationSource;
  detail?: string;
}

/** What a movie file says about its calibration (null: the file does not say). */
export interface MovieCalibration {
  /** pixel width along x (columns), µm */
  pixelX_um: CalibrationValue | null;
  /** pixel height along y (rows), µm; differs from x for anisotropic pixels */
  pixelY_um: CalibrationValue | null;
  frame_s: CalibrationValue | null;
}

export const NO_CALIBRATION: MovieCalibration = { pixelX_um: null, pixelY_um: null, frame_s: null };

/** µm per unit for the length units ImageJ, TIFF, OME (UnitsLength symbols) and HDF5 attributes use */
export const LENGTH_UNITS: Record<string, number> = {
  micron: 1, microns: 1, um: 1, '\u00b5m': 1, '\u03bcm': 1, micrometer: 1, micrometre: 1, micrometers: 1, micrometres: 1,
  nm: 1e-3, nanometer: 1e-3, nanometre: 1e-3, nanometers: 1e-3, nanometres: 1e-3,
  pm: 1e-6, '\u00c5': 1e-4, angstrom: 1e-4,
  mm: 1e3, millimeter: 1e3, millimetre: 1e3, cm: 1e4, centimeter: 1e4, m: 1e6, meter: 1e6, metre: 1e6,
  inch: 25400, inches: 25400, in: 25400,
};
/** s per unit for ImageJ's `tunit`, OME's TimeIncrementUnit (UnitsTime symbols) and HDF5 attributes */
export const TIME_UNITS: Record<string, number> = {
  s: 1, sec: 1, second: 1, seconds: 1, ms: 1e-3, msec: 1e-3, millisecond: 1e-3, milliseconds: 1e-3,
  us: 1e-6, '\u00b5s': 1e-6, '\u03bcs': 1e-6, microsecond: 1e-6, microseconds: 1e-6, ns: 1e-9,
  min: 60, minute: 60, minutes: 60, h: 3600, hr: 3600, hour: 3600, hours: 3600,
};

/** µm per `unit` (case-insensitive fallback), or null for an unknown unit */
export function lengthUnit_um(unit: string): number | null {
  const u = unit.trim();
  return LENGTH_UNITS[u] ?? LENGTH_UNITS[u.toLowerCase()] ?? null;
}

/** s per `unit`, or null for an unknown unit */
export function timeUnit_s(unit: string): number | null {
  const u = unit.trim();
  return TIME_UNITS[u] ?? TIME_UNITS[u.toLowerCase()] ?? null;
}

/** The `<Pixels>` element of an OME-XML document: sizes, order, type and calibration. */
export interface OmePixels {
  dimensionOrder: string;
  type: string | null;
  sizeX: number;
  sizeY: number;
  sizeZ: number;
  sizeC: number;
  sizeT: number;
  /** samples per pixel of the first channel (RGB OME-TIFFs store 3 in one plane) */
  samplesPerPixel: number;
  /** number of `<Image>` elements (series) in the document */
  images: number;
  /** page (IFD) of the first image's first plane (its first `<TiffData IFD>`, default 0) */
  firstIfd: number;
  calibration: MovieCalibration;
  /** lines for summary.json's movie.metadata */
  notes: string[];
}

function xmlUnescape(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#(\d+)|#x([0-9a-f]+));/gi, (m, name, dec, hex) =>
    dec ? String.fromCodePoint(Number(dec)) : hex ? String.fromCodePoint(parseInt(hex, 16))
      : ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" } as Record<string, string>)[name.toLowerCase()] ?? m);
}

/** Attributes of the first start tag `<name …>` (namespace prefix allowed) in `xml`. */
function startTagAttributes(xml: string, name: string): Record<string, string> | null {
  const m = new RegExp(`<(?:[\\w.-]+:)?${name}\\b([^>]*)>`).exec(xml);
  if (!m) return null;
  const out: Record<string, string> = {};
  for (const a of m[1].matchAll(/([\w:.-]+)\s*=\s*("([^"]*)"|'([^']*)')/g)) out[a[1]] = xmlUnescape(a[3] ?? a[4] ?? '');
  return out;
}

/** True for an ImageDescription that holds an OME-XML document. */
export function isOmeXml(description: string | null | undefined): boolean {
  return !!description && /<(?:[\w.-]+:)?OME\b/.test(description.slice(0, 4096)) && /<(?:[\w.-]+:)?Pixels\b/.test(description);
}

/**
 * Reads the first image's `<Pixels>` of an OME-XML document. Calibration follows the OME schema: the
 * unit attributes default to µm (PhysicalSize*Unit) and s (TimeIncrementUnit). An unknown unit or a
 * non-positive value is not used (a note says why), never guessed.
 */
export function parseOmeXml(xml: string): OmePixels | null {
  const px = startTagAttributes(xml, 'Pixels');
  if (!px) return null;
  const notes: string[] = [];
  const int = (k: string, d: number) => { const v = Number(px[k]); return Number.isInteger(v) && v > 0 ? v : d; };
  const length = (axis: 'X' | 'Y'): CalibrationValue | null => {
    const raw = px[`PhysicalSize${axis}`];
    if (raw === undefined) return null;
    const v = Number(raw);
    const unit = px[`PhysicalSize${axis}Unit`] ?? '\u00b5m';
    const scale = lengthUnit_um(unit);
    if (!(Number.isFinite(v) && v > 0)) { notes.push(`OME PhysicalSize${axis}="${raw}" is not a positive number; not used`); return null; }
    if (scale === null) { notes.push(`OME PhysicalSize${axis}Unit="${unit}" is not a length unit ionflux knows; not used`); return null; }
    const value = v * scale;
    notes.push(`pixel ${axis === 'X' ? 'width' : 'height'} ${value} µm (OME-XML PhysicalSize${axis}=${raw} ${unit})`);
    return { value, source: 'ome-xml', detail: `PhysicalSize${axis}=${raw} ${unit}` };
  };
  let frame_s: CalibrationValue | null = null;
  if (px.TimeIncrement !== undefined) {
    const v = Number(px.TimeIncrement);
    const unit = px.TimeIncrementUnit ?? 's';
    const scale = timeUnit_s(unit);
    if (!(Number.isFinite(v) && v > 0)) notes.push(`OME TimeIncrement="${px.TimeIncrement}" is not a positive number; not used`);
    else if (scale === null) notes.push(`OME TimeIncrementUnit="${unit}" is not a time unit ionflux knows; not used`);
    else {
      frame_s = { value: v * scale, source: 'ome-xml', detail: `TimeIncrement=${px.TimeIncrement} ${unit}` };
      notes.push(`frame interval ${frame_s.value} s (OME-XML TimeIncrement=${px.TimeIncrement} ${unit})`);
    }
  }
  const channel = startTagAttributes(xml, 'Channel');
  const tiffData = startTagAttributes(xml, 'TiffData');
  const firstIfd = Number(tiffData?.IFD ?? 0);
  const spp = Number(channel?.SamplesPerPixel ?? 1);
  return {
    dimensionOrder: px.DimensionOrder ?? 'XYZCT',
    type: px.Type ?? null,
    sizeX: int('SizeX', 0), sizeY: int('SizeY', 0), sizeZ: int('SizeZ', 1), sizeC: int('SizeC', 1), sizeT: int('SizeT', 1),
    samplesPerPixel: Number.isInteger(spp) && spp > 0 ? spp : 1,
    images: (xml.match(/<(?:[\w.-]+:)?Image\b[\s>]/g) ?? []).length,
    firstIfd: Number.isInteger(firstIfd) && firstIfd >= 0 ? firstIfd : 0,
    calibration: { pixelX_um: length('X'), pixelY_um: length('Y'), frame_s },
    notes,
  };
}

/**
 * The page (IFD) index of plane (z, c, t) in an OME-TIFF whose planes are stored in `dimensionOrder`
 * (e.g. "XYZCT": z fastest, then c, then t), starting at page 0.
 */
export function omePlaneIndex(p: Pick<OmePixels, 'dimensionOrder' | 'sizeZ' | 'sizeC' | 'sizeT'>, z: number, c: number, t: number): number {
  const order = p.dimensionOrder.toUpperCase().replace(/[XY]/g, '');
  const size: Record<string, number> = { Z: p.sizeZ, C: p.sizeC, T: p.sizeT };
  const at: Record<string, number> = { Z: z, C: c, T: t };
  let index = 0, stride = 1;
  for (const axis of order) { index += at[axis] * stride; stride *= size[axis]; }
  return index;
}

/** Relative difference above which pixels count as anisotropic (rounding in rationals is far below). */
export const ANISOTROPY_TOLERANCE = 1e-4;

/** True when both pixel sizes are known and differ by more than ANISOTROPY_TOLERANCE. */
export function isAnisotropic(cal: MovieCalibration): boolean {
  const x = cal.pixelX_um?.value, y = cal.pixelY_um?.value;
  return x !== undefined && y !== undefined && Math.abs(x - y) > ANISOTROPY_TOLERANCE * Math.max(x, y);
}

/** The calibration analyze uses, each value with its source (summary.json `calibration`). */
export interface ResolvedCalibration {
  pixel_um: CalibrationValue;
  frame_s: CalibrationValue;
}

/**
 * Picks the calibration: a flag over the file's metadata over the default (1 µm, 1 s). Square pixels
 * only: a file whose pixels are not square is refused unless `--pixel-um` is given (every length, area
 * and COM offset in ionflux assumes one pixel size). Returns the values and the warnings to print.
 */
export function resolveCalibration(
  moviePath: string, cal: MovieCalibration, flags: { pixel_um?: number; frame_s?: number },
): { calibration: ResolvedCalibration; warnings: string[] } {
  const warnings: string[] = [];
  let pixel_um: CalibrationValue;
  if (flags.pixel_um !== undefined) {
    const file = cal.pixelX_um ?? cal.pixelY_um;
    pixel_um = { value: flags.pixel_um, source: 'flag', detail: file ? `--pixel-um (over ${file.value} µm from ${file.source})` : '--pixel-um' };
    // an override far from the file's own value is a unit slip more often than a recalibration: said
    if (file && Math.abs(Math.log(flags.pixel_um / file.value)) > Math.log(1.5)) {
      warnings.push(`--pixel-um ${flags.pixel_um} overrides the pixel size in ${moviePath}'s metadata, ${file.value} µm (${file.source}), by ×${Number((flags.pixel_um / file.value).toPrecision(3))}: lengths and areas follow the option; leave it out to use the file's`);
    }
    if (isAnisotropic(cal)) {
      warnings.push(`${moviePath} has non-square pixels (${cal.pixelX_um!.value} µm wide × ${cal.pixelY_um!.value} µm high, ${cal.pixelX_um!.source}); --pixel-um ${flags.pixel_um} treats them as square`);
    }
  } else if (isAnisotropic(cal)) {
    const x = cal.pixelX_um!, y = cal.pixelY_um!;
    throw new UserError(`${moviePath} has non-square pixels: ${x.value} µm wide (${x.detail ?? x.source}) × ${y.value} µm high (${y.detail ?? y.source}); analyze needs square pixels: resample the movie to square pixels, or pass --pixel-um X to treat them as square and accept the error in lengths and areas`);
  } else if (cal.pixelX_um ?? cal.pixelY_um) {
    pixel_um = { ...(cal.pixelX_um ?? cal.pixelY_um)! };
  } else {
    pixel_um = { value: 1, source: 'default' };
    warnings.push(`${moviePath} has no pixel size in its metadata; lengths are in pixels (1 px = 1 µm assumed): give --pixel-um`);
  }
  let frame_s: CalibrationValue;
  if (flags.frame_s !== undefined) {
    frame_s = { value: flags.frame_s, source: 'flag', detail: cal.frame_s ? `--frame-s (over ${cal.frame_s.value} s from ${cal.frame_s.source})` : '--frame-s' };
    if (cal.frame_s && Math.abs(Math.log(flags.frame_s / cal.frame_s.value)) > Math.log(1.5)) {
      warnings.push(`--frame-s ${flags.frame_s} overrides the frame interval in ${moviePath}'s metadata, ${cal.frame_s.value} s (${cal.frame_s.source}), by ×${Number((flags.frame_s / cal.frame_s.value).toPrecision(3))}: times follow the option; leave it out to use the file's`);
    }
  }
  else if (cal.frame_s) frame_s = { ...cal.frame_s };
  else {
    frame_s = { value: 1, source: 'default' };
    warnings.push(`${moviePath} has no frame interval in its metadata; time is in frames (1 s per frame assumed): give --frame-s`);
  }
  return { calibration: { pixel_um, frame_s }, warnings };
}
