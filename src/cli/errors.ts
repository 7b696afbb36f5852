/**
 * An error the user can fix: bad input, a missing file, a grid too large for the adapter. The CLI
 * prints its message as one line (`ionflux: …`) and exits non-zero; other errors are bugs and keep
 * their stack.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}
