import { expect, test } from 'vitest';
import { decodeNpy, encodeNpy } from '../../src/io/npy';

test('float32 .npy round trip; header padded to 64 bytes as NumPy writes it', () => {
  const data = Float32Array.from({ length: 12 }, (_, i) => (i === 5 ? NaN : i * 0.5 - 1));
  const bytes = encodeNpy(data, [3, 4]);
  expect((bytes.length - data.byteLength) % 64).toBe(0);
  expect(new TextDecoder().decode(bytes.subarray(10, 70))).toContain("'shape': (3, 4)");
  const back = decodeNpy(bytes);
  expect(back.shape).toEqual([3, 4]);
  expect(Array.from(back.data).map((v) => (Number.isNaN(v) ? 'nan' : v))).toEqual(Array.from(data).map((v) => (Number.isNaN(v) ? 'nan' : v)));
});
