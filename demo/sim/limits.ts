/**
 * The demo refuses grids above this many cells (the library allows 2^26): a live page must draw
 * and step them at interactive rates. The message names the spacing that would fit.
 */
export const DEMO_MAX_CELLS = 1 << 20;
