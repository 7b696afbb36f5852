/**
 * NumPy .npy (format version 1.0) for float32 arrays, little-endian, C order: what `numpy.load`
 * reads without arguments.
 */
export function encodeNpy(data: Float32Array, shape: number[]): Uint8Array {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  // magic(6) + version(2) + header length(2) + header, padded with spaces to a multiple of 64, ending in \n
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0); // \x93NUMPY v1.0
  out[8] = header.length & 0xff;
  out[9] = header.length >> 8;
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  out.set(bytes, total); // typed arrays are little-endian on every platform Node and browsers run on
  return out;
}

/** Reads a float32 .npy written by encodeNpy (or NumPy); returns the data and its shape. */
export function decodeNpy(buf: Uint8Array): { data: Float32Array; shape: number[] } {
  const magic = String.fromCharCode(...buf.subarray(1, 6));
  if (buf[0] !== 0x93 || magic !== 'NUMPY') throw new Error('not a .npy file');
  const major = buf[6];
  const hlen = major === 1 ? buf[8] | (buf[9] << 8) : new DataView(buf.buffer, buf.byteOffset + 8, 4).getUint32(0, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(buf.subarray(start, start + hlen));
  if (!/'descr':\s*'<f4'/.test(header)) throw new Error(`only float32 .npy files are supported (header: ${header.trim()})`);
  if (/'fortran_order':\s*True/.test(header)) throw new Error('Fortran-ordered .npy files are not supported');
  const shape = (header.match(/'shape':\s*\(([^)]*)\)/)?.[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const offset = start + hlen;
  const bytes = new Uint8Array(buf.byteLength - offset);
  bytes.set(buf.subarray(offset)); // a copy: Node Buffers may share a larger pool
  const data = new Float32Array(bytes.buffer);
  return { data, shape };
}
