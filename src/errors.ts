/**
 * The two kinds of failure a user sees, below every layer that raises them (model, io, imaging,
 * solver, cli). The CLI prints either as one line `ionflux: …` and exits with the code below;
 * anything else is a bug and keeps its stack (exit 3).
 *
 *   0 success · 1 bad input (UserError) · 2 a fault of the environment (EnvironmentError: disk full,
 *   permissions, a busy output folder, no GPU) · 3 internal error · 130 / 143 stopped by SIGINT / SIGTERM
 */

/** Bad input the user can fix: a value, a file, an option. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

/** A config value that cannot be used (bad input: a UserError), named by key, value and what is allowed. */
export class ConfigError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** A fault of the machine rather than of the input: the disk, permissions, a lock, a device. */
export class EnvironmentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvironmentError';
  }
}

export const EXIT = { ok: 0, badInput: 1, environment: 2, internal: 3, sigint: 130, sigterm: 143 } as const;

const ERRNO_CAUSE: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted (the file or folder may be immutable or protected)',
  EROFS: 'the file system is read-only',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'it is a folder, not a file',
  ENOENT: 'no such file or folder',
  EEXIST: 'it already exists',
  ENOTEMPTY: 'the folder is not empty',
  EBUSY: 'the file or folder is busy',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files on the system',
  EIO: 'an input/output error of the device',
  ENAMETOOLONG: 'the path is too long',
  ELOOP: 'too many symbolic links in the path',
  EXDEV: 'the folders are on different file systems',
  ENXIO: 'no such device',
  ETXTBSY: 'the file is busy',
};

/**
 * An error of node:fs & co.: the fields of Node's ErrnoException, spelled out so that this module's
 * types need no Node typings (a browser bundle imports UserError from here).
 */
export interface ErrnoError extends Error {
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

/** An error from node:fs & co. (it carries an errno code such as ENOSPC). */
export function isErrnoError(e: unknown): e is ErrnoError {
  return e instanceof Error && typeof (e as ErrnoError).code === 'string' && /^E[A-Z0-9]+$/.test((e as ErrnoError).code as string);
}

/** "no space left on the device" for an errno error; the code itself for one not listed. */
export function errnoCause(e: ErrnoError): string {
  const code = e.code ?? '';
  return ERRNO_CAUSE[code] ? `${ERRNO_CAUSE[code]} (${code})` : code || e.message;
}

/** One line describing an errno error from `what` (e.g. "writing --out 'x'"). */
export function describeFsError(e: ErrnoError, what?: string): string {
  const where = e.path ? ` '${e.path}'` : '';
  const op = what ?? `${e.syscall ?? 'file operation'}${where}`;
  return `${op}: ${errnoCause(e)}`;
}

/**
 * Makes any message one readable line: newlines folded, length capped (a corrupt file once produced
 * a 250 KB "line").
 */
export function oneLine(message: string, max = 600): string {
  // control bytes (a binary file quoted in a message) would garble the terminal: shown as \xNN
  const flat = message.replace(/\s*\n\s*/g, '; ').trim()
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}… (${flat.length - max + 1} more characters)`;
}
