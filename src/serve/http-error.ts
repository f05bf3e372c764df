// An error that a request caused: it becomes a JSON body `{ error, code, hint? }` with its 4xx/5xx status.

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The JSON body of every error the server sends. */
export interface ErrorBody {
  error: string;
  code: string;
  hint?: string;
}
