// Reads the one uploaded image of a request into memory (never to disk), from either a
// multipart/form-data field `image` or a raw body with an image content type, plus the `beam` option.
import type { FastifyRequest } from 'fastify';
import { HttpError } from './http-error.js';

export interface Upload {
  image: Buffer;
  /** The `beam` form field or query parameter, unparsed (undefined when absent). */
  beamField?: string;
}

const HOW_TO_SEND = "send the image as multipart/form-data field 'image', or as the raw body with Content-Type image/*";

/** Collects the upload; the size limit was enforced while streaming by the body/multipart parsers. */
export async function readUpload(request: FastifyRequest): Promise<Upload> {
  const query = request.query as Record<string, string | undefined>;
  if (!request.isMultipart()) {
    const body = request.body;
    if (Buffer.isBuffer(body)) {
      return { image: body, beamField: query.beam };
    }
    const contentType = request.headers['content-type'] ?? '';
    if (body === undefined && /^(image\/|application\/octet-stream)/i.test(contentType)) {
      // Fastify skips the body parser when there is no body at all.
      return { image: Buffer.alloc(0), beamField: query.beam };
    }
    if (body === undefined || body === null) throw new HttpError(400, 'NO_FILE', 'no image in the request', HOW_TO_SEND);
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `a ${contentType.split(';')[0]} body is not an image`, HOW_TO_SEND);
  }
  return await untilFormEnds(request, readForm(request, query.beam));
}

async function readForm(request: FastifyRequest, queryBeam: string | undefined): Promise<Upload> {
  let image: Buffer | undefined;
  let beamField = queryBeam;
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      // toBuffer() rejects with a 413 as soon as the stream passes limits.fileSize.
      const data = await part.toBuffer();
      if (part.fieldname === 'image' && image === undefined) image = data;
    } else if (part.fieldname === 'beam') {
      beamField = String(part.value);
    }
  }
  if (image === undefined) throw new HttpError(400, 'NO_FILE', "the form has no file field named 'image'", HOW_TO_SEND);
  return { image, beamField };
}

/** Largest `beam` a request may ask for: beyond 10 beams captions stop improving and latency keeps growing. */
export const DEFAULT_MAX_BEAM_SIZE = 10;

// Once the whole body is in (or its stream is paused), the parser needs only moments to go on; a
// little longer covers a busy event loop.
const FORM_SETTLE_MS = 300;
const STALL_CHECK_MS = 50;
/** Header lines allowed in one part: a browser sends two (Content-Disposition, Content-Type). */
export const MAX_PART_HEADER_LINES = 16;
/** A part's header block longer than this is left to busboy's own size limit. */
const MAX_WATCHED_HEADER_CHARS = 16 * 1024;

export const MALFORMED_FORM_HINT = `${HOW_TO_SEND}; every part needs a Content-Disposition header, and the form its closing boundary`;

/**
 * The form as `reading` resolves it, or a 400 as soon as one of these is seen:
 * - the multipart parser stalls: busboy leaves the request paused for good (or never settles after
 *   its end) on some malformed forms, e.g. a part it skips, such as one without Content-Disposition,
 *   that is larger than one read; the request would otherwise never be answered;
 * - a part with more than MAX_PART_HEADER_LINES header lines: busboy silently drops the lines past
 *   its limit (a Content-Disposition among them makes it skip the part, and stall as above).
 */
function untilFormEnds(request: FastifyRequest, reading: Promise<Upload>): Promise<Upload> {
  const raw = request.raw;
  let refuse: (e: Error) => void = () => undefined;
  const refused = new Promise<never>((_resolve, reject) => {
    refuse = reject;
  });
  // Stalled: the body is all in, or its stream is held paused (busboy asked for a pause it never lifts).
  let stalledChecks = 0;
  const watchdog = setInterval(() => {
    stalledChecks = raw.readableEnded || raw.readableFlowing === false ? stalledChecks + 1 : 0;
    if (stalledChecks * STALL_CHECK_MS >= FORM_SETTLE_MS)
      refuse(new HttpError(400, 'BAD_FORM', 'the multipart form is malformed or incomplete', MALFORMED_FORM_HINT));
  }, STALL_CHECK_MS);
  const boundary = boundaryOf(request.headers['content-type']);
  const stopWatching = boundary
    ? watchPartHeaders(raw, boundary, () =>
        refuse(
          new HttpError(400, 'BAD_FORM', `a part of the form has more than ${MAX_PART_HEADER_LINES} header lines`, MALFORMED_FORM_HINT),
        ),
      )
    : () => undefined;
  return Promise.race([reading, refused]).finally(() => {
    clearInterval(watchdog);
    stopWatching();
    // The losing side settles later (or never); its outcome no longer matters.
    reading.catch(() => undefined);
  });
}

/** The `boundary` parameter of a multipart Content-Type (quoted or not), or undefined. */
function boundaryOf(contentType: string | undefined): string | undefined {
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  return m ? (m[1] ?? m[2]) : undefined;
}

/**
 * Counts the header lines of each part as the body streams in (beside busboy, which reads the same
 * chunks) and calls `onTooMany` at the first part past the limit. Holds at most one header block.
 */
function watchPartHeaders(raw: FastifyRequest['raw'], boundary: string, onTooMany: () => void): () => void {
  const delimiter = `\r\n--${boundary}\r\n`;
  let text = '\r\n'; // the body's first delimiter has no line break before it
  let inHeaders = false;
  const stop = () => raw.off('data', onData);
  function onData(chunk: Buffer): void {
    text += chunk.toString('latin1');
    for (;;) {
      if (!inHeaders) {
        const at = text.indexOf(delimiter);
        if (at < 0) {
          text = text.slice(-delimiter.length);
          return;
        }
        text = text.slice(at + delimiter.length);
        inHeaders = true;
      }
      const end = text.indexOf('\r\n\r\n');
      const block = end < 0 ? text : text.slice(0, end);
      if (block.split('\r\n').length > MAX_PART_HEADER_LINES) {
        stop();
        onTooMany();
        return;
      }
      if (end < 0) {
        if (text.length > MAX_WATCHED_HEADER_CHARS) stop();
        return;
      }
      text = text.slice(end + 4); // the part's body, whose end delimiter starts with a line break
      inHeaders = false;
    }
  }
  raw.on('data', onData);
  return stop;
}

/** `beam` -> beam size: absent, empty or 1 means greedy. */
export function parseBeamSize(value: string | undefined, maxBeamSize: number, defaultBeamSize = 1): number {
  if (value === undefined || value.trim() === '') return defaultBeamSize;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > maxBeamSize) {
    throw new HttpError(
      400,
      'BAD_BEAM',
      `beam must be a whole number from 1 to ${maxBeamSize}, got '${value}'`,
      "leave it out for the server's default decoding",
    );
  }
  return n;
}
