// The capgen web server: fastify (HTTP, streaming body limits, JSON errors) + @fastify/multipart (busboy
// form parsing). Routes: GET / (the page), POST /api/caption, GET /api/health. Uploads stay in memory.
import type { IncomingMessage } from 'node:http';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import multipart from '@fastify/multipart';
import { isCapgenError } from '../errors.js';
import { warn } from '../log.js';
import { checkImage } from './image-check.js';
import { HttpError, type ErrorBody } from './http-error.js';
import { renderPage } from './page.js';
import { SerialQueue } from './queue.js';
import type { Captioner } from './types.js';
import { DEFAULT_MAX_BEAM_SIZE, MALFORMED_FORM_HINT, MAX_PART_HEADER_LINES, parseBeamSize, readUpload } from './upload.js';

export interface ServerOptions {
  captioner: Captioner;
  /** Largest accepted upload, enforced while the body streams in. */
  maxUploadBytes: number;
  /** Largest `beam`; each beam costs one decoder row per step. */
  maxBeamSize?: number;
  /** Beam width of API requests without `beam`, and the page's preselected choice (serve --beam-size). */
  beamSize?: number;
  /** Requests waiting for the model before new ones get a 503. */
  maxQueuedRequests?: number;
}

export { DEFAULT_MAX_BEAM_SIZE } from './upload.js';
// Waiting uploads stay in memory: 64 x 10 MB bounds that to ~640 MB, and 64 images is seconds of backlog on a CPU.
export const DEFAULT_MAX_QUEUED_REQUESTS = 64;

/** Builds (does not start) the server; `app.listen()` starts it and `app.close()` frees the model. */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const { captioner, maxUploadBytes } = options;
  const maxBeamSize = options.maxBeamSize ?? DEFAULT_MAX_BEAM_SIZE;
  const queue = new SerialQueue(options.maxQueuedRequests ?? DEFAULT_MAX_QUEUED_REQUESTS);
  const startedAt = Date.now();
  let captioned = 0;

  // bodyLimit makes fastify refuse a raw body with a 413 as soon as Content-Length or the bytes received pass it.
  const app = Fastify({
    logger: false,
    bodyLimit: maxUploadBytes,
    // A client gets 2 minutes to send its request (a 10 MB photo over a slow phone link); a stalled upload
    // is then cut, so idle sockets cannot pile up.
    requestTimeout: 120_000,
  });
  await app.register(multipart, {
    // One file, a few small fields: anything else is refused while parsing, before it is buffered.
    limits: { fileSize: maxUploadBytes, files: 1, fields: 4, fieldSize: 1024, parts: 6, headerPairs: MAX_PART_HEADER_LINES },
  });
  const keepRaw = (_req: unknown, body: Buffer, done: (err: Error | null, body?: Buffer) => void) => done(null, body);
  app.addContentTypeParser(/^image\/[\w.+-]+/i, { parseAs: 'buffer', bodyLimit: maxUploadBytes }, keepRaw);
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: maxUploadBytes }, keepRaw);

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (clientWentAway(error, request.raw)) {
      // Not our failure and nobody to answer: one line, no stack.
      warn(`serve: the client closed the connection during the upload (${request.method} ${request.url})`);
      return reply.status(400).send({ error: 'the upload was aborted', code: 'ABORTED' } satisfies ErrorBody);
    }
    const { status, body } = toErrorBody(error, maxUploadBytes);
    if (status >= 500 && !(error instanceof HttpError)) warn(`serve: ${error.stack ?? error.message}`);
    // After an early 413 the client may still be sending; closing stops us reading the rest of a huge body.
    // So does a form the parser gave up on: the rest of its body is not read.
    if (status === 413 || body.code === 'BAD_FORM') reply.header('connection', 'close');
    return reply.status(status).send(body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({
      error: `no route ${request.method} ${request.url}`,
      code: 'NOT_FOUND',
      hint: 'see GET / for the page, POST /api/caption, GET /api/health',
    } satisfies ErrorBody),
  );

  const page = renderPage({ maxUploadBytes, maxBeamSize, info: captioner.describe(), beamSize: options.beamSize });
  app.get('/', (_request, reply) => {
    reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', page.contentSecurityPolicy)
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'no-store')
      .send(page.html);
  });

  app.get('/api/health', () => {
    const info = captioner.describe();
    return { status: 'ok', ...info, uptimeS: Math.round((Date.now() - startedAt) / 100) / 10, captioned, queued: queue.pending };
  });

  app.post('/api/caption', async (request, reply) => {
    const upload = await readUpload(request);
    const beamSize = parseBeamSize(upload.beamField, maxBeamSize, options.beamSize);
    // Decoding runs in sharp's thread pool, so checks of concurrent uploads overlap with the model's work.
    const image = await checkImage(upload.image);
    const result = await queue.run(() => captioner.caption(upload.image, { beamSize }));
    captioned++;
    return {
      caption: result.caption,
      ...(beamSize > 1 && result.beams ? { beams: result.beams } : {}),
      ...(result.attention ? { attention: result.attention } : {}),
      model: captioner.describe().model,
      beamSize,
      image,
      elapsedMs: Math.round(reply.elapsedTime * 10) / 10,
    };
  });

  app.addHook('onClose', async () => {
    captioner.dispose?.();
  });
  return app;
}

/** An upload that ended because the client closed the connection (closed tab, lost network, curl ^C). */
function clientWentAway(error: FastifyError, raw: IncomingMessage): boolean {
  if (raw.aborted || raw.socket?.destroyed) return true;
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || /^aborted$/i.test(error.message);
}

/** Fastify's and @fastify/multipart's own errors, reworded for people uploading an image. */
const KNOWN_ERRORS: Record<string, (limitMb: string) => ErrorBody> = {
  FST_ERR_CTP_BODY_TOO_LARGE: (mb) => ({ code: 'TOO_LARGE', error: `the upload is larger than the ${mb} MB limit`, hint: TOO_LARGE_HINT }),
  FST_REQ_FILE_TOO_LARGE: (mb) => ({ code: 'TOO_LARGE', error: `the upload is larger than the ${mb} MB limit`, hint: TOO_LARGE_HINT }),
  FST_FILES_LIMIT: () => ({ code: 'TOO_MANY_FILES', error: 'the form holds more than one file', hint: 'send one image per request' }),
  FST_PARTS_LIMIT: () => ({
    code: 'TOO_MANY_PARTS',
    error: 'the form holds too many fields',
    hint: "send only 'image' and optionally 'beam'",
  }),
  FST_FIELDS_LIMIT: () => ({
    code: 'TOO_MANY_PARTS',
    error: 'the form holds too many fields',
    hint: "send only 'image' and optionally 'beam'",
  }),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => ({
    code: 'UNSUPPORTED_MEDIA_TYPE',
    error: 'unsupported Content-Type',
    hint: "send multipart/form-data with field 'image', or a raw body with Content-Type image/*",
  }),
};
const TOO_LARGE_HINT = 'send a smaller image (or start the server with a larger --max-upload-mb)';

/** busboy's errors for a form it cannot parse: they carry no status, but the request is at fault, not the server. */
function isMalformedForm(error: FastifyError): boolean {
  return (
    error.statusCode === undefined &&
    /^(Multipart: |Malformed part header|Unexpected end of (form|multipart data)|Part terminated early)/.test(error.message)
  );
}

function toErrorBody(error: FastifyError, maxUploadBytes: number): { status: number; body: ErrorBody } {
  if (error instanceof HttpError) {
    return { status: error.statusCode, body: { error: error.message, code: error.code, ...(error.hint ? { hint: error.hint } : {}) } };
  }
  if (isCapgenError(error) && (error.code === 'BAD_INPUT' || error.code === 'NOT_FOUND')) {
    return { status: 422, body: { error: error.message, code: 'BAD_IMAGE', ...(error.hint ? { hint: error.hint } : {}) } };
  }
  if (isMalformedForm(error)) {
    return {
      status: 400,
      body: { error: `the multipart form is malformed (${error.message})`, code: 'BAD_FORM', hint: MALFORMED_FORM_HINT },
    };
  }
  const status = typeof error.statusCode === 'number' && error.statusCode >= 400 ? error.statusCode : 500;
  if (status >= 500) return { status, body: { error: 'internal error while captioning', code: 'INTERNAL' } };
  const known = KNOWN_ERRORS[error.code]?.(String(Math.round((maxUploadBytes / 2 ** 20) * 100) / 100));
  return { status, body: known ?? { error: error.message, code: error.code ?? 'BAD_REQUEST' } };
}
