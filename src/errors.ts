// The one error type users see: a code, a message that names the file (and line), and a hint.
// The CLI prints it as one line and exits with code 2; anything else is a bug (exit 1, stack trace).

export type ErrorCode =
  | 'USAGE' // bad flag values or combinations
  | 'NOT_FOUND' // a file or folder the user named (or a default) does not exist
  | 'BAD_INPUT' // a file exists but its content is wrong
  | 'BACKEND' // a compute backend that was asked for cannot be loaded
  | 'MISMATCH' // artifacts that do not belong together (e.g. checkpoint vs features)
  | 'NETWORK' // a download failed
  | 'DISK'; // the file system refused a write: full, read-only, no permission, quota

export interface ErrorDetails {
  file?: string;
  line?: number;
  hint?: string;
  cause?: unknown;
}

export class CapgenError extends Error {
  readonly code: ErrorCode;
  readonly file?: string;
  readonly line?: number;
  readonly hint?: string;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'CapgenError';
    this.code = code;
    this.file = details.file;
    this.line = details.line;
    this.hint = details.hint;
  }

  /** One line: `file:line: message (hint)`. */
  oneLine(): string {
    const where = this.file ? `${this.file}${this.line !== undefined ? `:${this.line}` : ''}: ` : '';
    const hint = this.hint ? ` (${this.hint})` : '';
    return `${where}${this.message}${hint}`.replace(/\s*\n\s*/g, ' ');
  }
}

export function isCapgenError(e: unknown): e is CapgenError {
  return e instanceof CapgenError;
}
