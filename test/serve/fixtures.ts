// Shared by the serve tests: start a server on an ephemeral port, make images, post them.
import sharp from 'sharp';
import type { FastifyInstance } from 'fastify';
import { afterAll } from 'vitest';
import { buildServer, type ServerOptions } from '../../src/serve/server.js';

export interface Started {
  app: FastifyInstance;
  url: string;
}

/** Builds and starts a server on 127.0.0.1:<free port>, closed after the test file. */
export async function startServer(options: ServerOptions): Promise<Started> {
  const app = await buildServer(options);
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  afterAll(() => app.close());
  return { app, url };
}

/** A solid-colour image, with a little noise so it is not a trivially compressible file. */
export async function solidImage(rgb: [number, number, number], format: 'jpeg' | 'png' | 'webp' = 'jpeg', size = 64): Promise<Buffer> {
  const [r, g, b] = rgb;
  return sharp({ create: { width: size, height: Math.round(size * 0.75), channels: 3, background: { r, g, b } } })
    .toFormat(format)
    .toBuffer();
}

/** A multipart form with the image as field `image` (and optional extra fields). */
export function imageForm(image: Buffer, opts: { field?: string; type?: string; fileName?: string; beam?: string } = {}): FormData {
  const form = new FormData();
  form.append(opts.field ?? 'image', new Blob([new Uint8Array(image)], { type: opts.type ?? 'image/jpeg' }), opts.fileName ?? 'photo.jpg');
  if (opts.beam !== undefined) form.append('beam', opts.beam);
  return form;
}

export interface JsonResponse {
  status: number;
  body: Record<string, unknown>;
}

export async function postCaption(
  url: string,
  body: FormData | Buffer,
  opts: { contentType?: string; query?: string } = {},
): Promise<JsonResponse> {
  const headers: Record<string, string> = opts.contentType ? { 'content-type': opts.contentType } : {};
  const payload = Buffer.isBuffer(body) ? new Uint8Array(body) : body;
  const response = await fetch(`${url}/api/caption${opts.query ? `?${opts.query}` : ''}`, { method: 'POST', body: payload, headers });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
