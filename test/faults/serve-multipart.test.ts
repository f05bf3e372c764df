// Malformed multipart uploads: a form without its closing boundary or without `boundary=` answered
// 500 with a stack trace in the log; a part without Content-Disposition, or with 300 header lines,
// got no answer at all. Each is a 400 with a JSON error within a second, and nothing is logged as a
// server failure.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fakeCaptioner } from '../serve/fake-captioner.js';
import { imageForm, postCaption, solidImage, startServer } from '../serve/fixtures.js';

/** Sends raw request bytes; resolves with the status and body, or null when nothing came back within `timeoutMs`. */
function rawRequest(url: string, request: string | Buffer, timeoutMs = 1000): Promise<{ status: number; body: string } | null> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(null);
    }, timeoutMs);
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      const head = data.indexOf('\r\n\r\n');
      if (head < 0) return;
      const length = /content-length: *(\d+)/i.exec(data.slice(0, head));
      const body = data.slice(head + 4);
      if (length && Buffer.byteLength(body, 'latin1') >= Number(length[1])) {
        clearTimeout(timer);
        socket.destroy();
        resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(data)![1]), body });
      }
    });
    socket.on('error', () => undefined);
    socket.write(typeof request === 'string' ? Buffer.from(request, 'latin1') : request);
  });
}

function multipartRequest(opts: { contentType: string; body: string }): string {
  return (
    `POST /api/caption HTTP/1.1\r\nHost: localhost\r\nContent-Type: ${opts.contentType}\r\n` +
    `Content-Length: ${Buffer.byteLength(opts.body, 'latin1')}\r\n\r\n${opts.body}`
  );
}

const B = 'XyZboundary';
/** A real JPEG of noise, large enough to span many reads (busboy stalls only on parts larger than one). */
const NOISE_SIDE = 256;
const JPEG = (
  await sharp(randomBytes(NOISE_SIDE * NOISE_SIDE * 3), { raw: { width: NOISE_SIDE, height: NOISE_SIDE, channels: 3 } })
    .jpeg({ quality: 95 })
    .toBuffer()
).toString('latin1');
const filePart = (headers: string, content = JPEG) => `--${B}\r\n${headers}\r\n\r\n${content}\r\n`;

describe('serve: malformed multipart uploads are 400s within a second', async () => {
  const { url } = await startServer({ captioner: fakeCaptioner(), maxUploadBytes: 2 ** 20 });
  let stderr: string[];
  beforeEach(() => {
    stderr = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr.push(String(chunk));
      return true;
    });
  });
  afterEach(() => vi.restoreAllMocks());

  const cases: [string, string][] = [
    [
      'no closing boundary',
      multipartRequest({
        contentType: `multipart/form-data; boundary=${B}`,
        body: filePart('Content-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg'),
      }),
    ],
    [
      'no boundary= in the Content-Type',
      multipartRequest({
        contentType: 'multipart/form-data',
        body: `${filePart('Content-Disposition: form-data; name="image"; filename="a.jpg"')}--${B}--\r\n`,
      }),
    ],
    // busboy skips such a part, and stalled on some sizes of it: these are sizes that went unanswered
    ...[1000, 20_000, 200_000, 900_000].map((sizeBytes): [string, string] => [
      `a part without Content-Disposition (${sizeBytes} bytes)`,
      multipartRequest({
        contentType: `multipart/form-data; boundary=${B}`,
        body: `${filePart('Content-Type: image/jpeg', randomBytes(sizeBytes).toString('latin1'))}--${B}--\r\n`,
      }),
    ]),
    [
      'a part with 300 header lines',
      multipartRequest({
        contentType: `multipart/form-data; boundary=${B}`,
        body: `${filePart(
          [
            'Content-Disposition: form-data; name="image"; filename="a.jpg"',
            ...Array.from({ length: 299 }, (_, i) => `X-Filler-${i}: ${i}`),
          ].join('\r\n'),
        )}--${B}--\r\n`,
      }),
    ],
    [
      'a part with 300 header lines, Content-Disposition last',
      multipartRequest({
        contentType: `multipart/form-data; boundary=${B}`,
        body: `${filePart(
          [
            ...Array.from({ length: 299 }, (_, i) => `X-Filler-${i}: ${i}`),
            'Content-Disposition: form-data; name="image"; filename="a.jpg"',
          ].join('\r\n'),
        )}--${B}--\r\n`,
      }),
    ],
    [
      'an unterminated part header',
      multipartRequest({
        contentType: `multipart/form-data; boundary=${B}`,
        body: `--${B}\r\nContent-Disposition: form-data; name="image"`,
      }),
    ],
  ];

  it.each(cases)('%s: 400 with a JSON error, no stack trace in the log', async (_name, request) => {
    const started = performance.now();
    const res = await rawRequest(url, request);
    expect(res, 'no answer within a second').not.toBeNull();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(res!.status, stderr.join('').slice(0, 300)).toBe(400);
    const body = JSON.parse(res!.body) as { error: string; code: string };
    expect(body.code).toMatch(/^[A-Z_]+$/);
    expect(body.error.length).toBeGreaterThan(0);
    expect(stderr.join(''), stderr.join('')).not.toMatch(/^\s+at /m);
  });

  it('still captions a good upload afterwards', async () => {
    const res = await postCaption(url, imageForm(await solidImage([240, 16, 16])));
    expect(res.status).toBe(200);
    expect(res.body.caption).toBe('a red image');
  });
});
