/** The CLI's error kinds live below every layer (src/errors.ts); re-exported for the commands. */
export { UserError, EnvironmentError, EXIT, oneLine, describeFsError, errnoCause, isErrnoError } from '../errors';
