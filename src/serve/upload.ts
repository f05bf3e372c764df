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
  let image: Buffer | undefined;
  let beamField = query.beam;
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
