/** The package version, from package.json at build time (the CLI bundle and the library alike). */
import pkg from '../package.json';

export const VERSION: string = pkg.version;
