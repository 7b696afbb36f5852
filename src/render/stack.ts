/**
 * Figures put together from figures: side by side or one under the other, on white, with a gap.
 */
import type { RgbaImage } from './png';

/** `images` in one row (`direction` 'row') or one column ('column'), top/left aligned, white between. */
export function stackImages(images: RgbaImage[], direction: 'row' | 'column', gap = 8): RgbaImage {
  if (!images.length) throw new Error('stackImages: no images');
  const row = direction === 'row';
  const width = row ? images.reduce((a, im) => a + im.width, 0) + gap * (images.length - 1) : Math.max(...images.map((im) => im.width));
  const height = row ? Math.max(...images.map((im) => im.height)) : images.reduce((a, im) => a + im.height, 0) + gap * (images.length - 1);
  const rgba = new Uint8Array(width * height * 4).fill(255);
  let at = 0;
  for (const im of images) {
    const x0 = row ? at : 0, y0 = row ? 0 : at;
    for (let r = 0; r < im.height; r++) rgba.set(im.rgba.subarray(r * im.width * 4, (r + 1) * im.width * 4), ((y0 + r) * width + x0) * 4);
    at += (row ? im.width : im.height) + gap;
  }
  return { rgba, width, height };
}
