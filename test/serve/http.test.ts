// HTTP behaviour of `capgen serve` with a fake captioner: good uploads, every bad request (status +
// JSON error), limits enforced while streaming, the queue under 50 concurrent requests.
import http from 'node:http';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CapgenError } from '../../src/errors.js';
import { fakeCaptioner } from './fake-captioner.js';
import { imageForm, postCaption, solidImage, startServer } from './fixtures.js';

const MB = 2 ** 20;

describe('capgen serve over HTTP (fake captioner)', async () => {
  const fake = fakeCaptioner({ delayMs: 2 });
  const { url } = await startServer({ captioner: fake, maxUploadBytes: 1 * MB });
  const red = await solidImage([240, 16, 16]);

  async function expectStillServing(): Promise<void> {
    const res = await postCaption(url, imageForm(red));
    expect(res.status).toBe(200);
    expect(res.body.caption).toBe('a red image');
  }

  it('captions a multipart upload and a raw image body', async () => {
    const multipart = await postCaption(url, imageForm(red));
    expect(multipart.status).toBe(200);
    expect(multipart.body).toMatchObject({
      caption: 'a red image',
      model: 'fake-colour-namer',
      beamSize: 1,
      image: { format: 'jpeg', width: 64, height: 48 },
    });
    expect(multipart.body.beams).toBeUndefined();
    expect(typeof multipart.body.elapsedMs).toBe('number');

    const png = await solidImage([10, 20, 230], 'png');
    const raw = await postCaption(url, png, { contentType: 'image/png' });
    expect(raw.status).toBe(200);
    expect(raw.body).toMatchObject({ caption: 'a blue image', image: { format: 'png' } });
    // The declared type does not matter: the bytes are decoded.
    const mislabelled = await postCaption(url, png, { contentType: 'image/jpeg' });
    expect(mislabelled.body).toMatchObject({ caption: 'a blue image', image: { format: 'png' } });
  });

  it('returns the top beams with scores when beam is set (query or form field)', async () => {
    const green = await solidImage([20, 235, 20], 'webp');
    for (const res of [
      await postCaption(url, imageForm(green, { beam: '3' })),
      await postCaption(url, green, { contentType: 'image/webp', query: 'beam=3' }),
    ]) {
      expect(res.status).toBe(200);
      const beams = res.body.beams as { caption: string; score: number }[];
      expect(beams).toHaveLength(3);
      expect(beams[0]!.caption).toBe('a green image');
      expect(res.body.caption).toBe(beams[0]!.caption);
      expect(beams.map((b) => b.score)).toEqual([...beams.map((b) => b.score)].sort((a, b) => b - a));
    }
  });

  const badRequests: [string, () => Promise<{ status: number; body: Record<string, unknown> }>, number, string][] = [
    ['no body at all', () => postCaption(url, Buffer.alloc(0)), 400, 'NO_FILE'],
    [
      'a form without an image field',
      async () => {
        const form = new FormData();
        form.append('beam', '3');
        return postCaption(url, form);
      },
      400,
      'NO_FILE',
    ],
    ['a form whose file has another field name', () => postCaption(url, imageForm(red, { field: 'photo' })), 400, 'NO_FILE'],
    ['an empty file in a form', () => postCaption(url, imageForm(Buffer.alloc(0))), 400, 'EMPTY_FILE'],
    ['an empty raw image body', () => postCaption(url, Buffer.alloc(0), { contentType: 'image/jpeg' }), 400, 'EMPTY_FILE'],
    [
      'a text file named .jpg',
      () => postCaption(url, imageForm(Buffer.from('just some text, not pixels\n'), { fileName: 'cat.jpg' })),
      415,
      'NOT_AN_IMAGE',
    ],
    [
      'an SVG document',
      () =>
        postCaption(
          url,
          imageForm(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>'), {
            type: 'image/svg+xml',
          }),
        ),
      415,
      'NOT_AN_IMAGE',
    ],
    [
      'a JSON body',
      () => postCaption(url, Buffer.from('{"image":"x"}'), { contentType: 'application/json' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'an unknown content type',
      () => postCaption(url, Buffer.from('x'), { contentType: 'application/x-unknown' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    ['a JPEG cut in half', () => postCaption(url, imageForm(red.subarray(0, Math.floor(red.length / 2)))), 422, 'CORRUPT_IMAGE'],
    [
      'a JPEG without its last bytes (header intact)',
      async () => {
        const big = await solidImage([200, 40, 40], 'jpeg', 400);
        return postCaption(url, big.subarray(0, big.length - 300), { contentType: 'image/jpeg' });
      },
      422,
      'CORRUPT_IMAGE',
    ],
    [
      'a small PNG that declares 10000x6000 pixels (decompression bomb)',
      async () => {
        const png = Buffer.from(await solidImage([9, 9, 9], 'png', 8));
        png.writeUInt32BE(10000, 16); // IHDR width
        png.writeUInt32BE(6000, 20); // IHDR height
        png.writeUInt32BE(zlib.crc32(png.subarray(12, 29)) >>> 0, 29); // IHDR checksum, so only the size is "wrong"
        return postCaption(url, imageForm(png, { type: 'image/png' }));
      },
      413,
      'TOO_MANY_PIXELS',
    ],
    ['a form over the limit', () => postCaption(url, imageForm(Buffer.concat([red, Buffer.alloc(1.5 * MB)]))), 413, 'TOO_LARGE'],
    [
      'a raw body over the limit',
      () => postCaption(url, Buffer.concat([red, Buffer.alloc(1.5 * MB)]), { contentType: 'image/jpeg' }),
      413,
      'TOO_LARGE',
    ],
    [
      'two files in one form',
      async () => {
        const form = imageForm(red);
        form.append('image', new Blob([new Uint8Array(red)], { type: 'image/jpeg' }), 'second.jpg');
        return postCaption(url, form);
      },
      413,
      'TOO_MANY_FILES',
    ],
    ['beam=0', () => postCaption(url, imageForm(red, { beam: '0' })), 400, 'BAD_BEAM'],
    ['beam=abc', () => postCaption(url, red, { contentType: 'image/jpeg', query: 'beam=abc' }), 400, 'BAD_BEAM'],
    ['beam above the maximum', () => postCaption(url, imageForm(red, { beam: '11' })), 400, 'BAD_BEAM'],
  ];

  it.each(badRequests)('refuses %s with a JSON error, then keeps serving', async (_name, send, status, code) => {
    const callsBefore = fake.calls;
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
    expect(typeof res.body.error).toBe('string');
    expect((res.body.error as string).length).toBeGreaterThan(5);
    expect(fake.calls).toBe(callsBefore); // refused before reaching the model
    await expectStillServing();
  });

  it('stops reading an oversized chunked upload early instead of buffering it', async () => {
    // No Content-Length: the server can only notice while the bytes stream in.
    const { status, body, bytesSent } = await new Promise<{ status: number; body: string; bytesSent: number }>((resolve, reject) => {
      let bytesSent = 0;
      let answered = false;
      const request = http.request(
        `${url}/api/caption`,
        { method: 'POST', headers: { 'content-type': 'image/jpeg', 'transfer-encoding': 'chunked' } },
        (response) => {
          answered = true;
          let text = '';
          response.on('data', (d) => (text += d));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text, bytesSent }));
        },
      );
      request.on('error', (e) => (answered ? undefined : reject(e)));
      const chunk = Buffer.alloc(64 * 1024, 1);
      const pump = () => {
        // Up to 200 MB unless the server answers first.
        while (!answered && bytesSent < 200 * MB) {
          bytesSent += chunk.length;
          if (!request.write(chunk)) return void request.once('drain', pump);
        }
        request.end();
      };
      pump();
    });
    expect(status).toBe(413);
    expect(JSON.parse(body).code).toBe('TOO_LARGE');
    expect(bytesSent).toBeLessThan(20 * MB);
    await expectStillServing();
  });

  it('refuses a declared Content-Length over the limit before reading the body', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const request = http.request(
        `${url}/api/caption`,
        { method: 'POST', headers: { 'content-type': 'image/jpeg', 'content-length': String(50 * MB) } },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      request.on('error', reject);
      request.write(red); // a few KB of the announced 50 MB; the answer must come without the rest
    });
    expect(status).toBe(413);
    await expectStillServing();
  });

  it('survives a client that disconnects in the middle of an upload', async () => {
    const callsBefore = fake.calls;
    await new Promise<void>((resolve) => {
      const boundary = 'capgen-test-boundary';
      const request = http.request(`${url}/api/caption`, {
        method: 'POST',
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      });
      request.on('error', () => resolve()); // the socket we destroy
      request.write(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`);
      request.write(red.subarray(0, 200));
      setTimeout(() => {
        request.destroy();
        resolve();
      }, 100);
    });
    await expectStillServing();
    expect(fake.calls).toBe(callsBefore + 1); // only the good request reached the model
  });

  it('answers 50 concurrent requests correctly, one model call at a time', async () => {
    const colours: [string, [number, number, number]][] = [
      ['red', [230, 20, 20]],
      ['green', [20, 230, 20]],
      ['blue', [20, 20, 230]],
      ['white', [250, 250, 250]],
      ['yellow', [240, 240, 10]],
    ];
    const images = await Promise.all(colours.map(([, rgb], i) => solidImage(rgb, i % 2 ? 'png' : 'jpeg')));
    const before = fake.calls;
    fake.maxConcurrent = 0;
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) => postCaption(url, imageForm(images[i % 5]!, i % 3 === 0 ? { beam: '2' } : {}))),
    );
    responses.forEach((res, i) => {
      expect(res.status).toBe(200);
      expect(res.body.caption).toBe(`a ${colours[i % 5]![0]} image`);
      expect(res.body.beams === undefined).toBe(i % 3 !== 0);
    });
    expect(fake.calls - before).toBe(50);
    expect(fake.maxConcurrent).toBe(1);
  });

  it('serves health and the page', async () => {
    const health = (await (await fetch(`${url}/api/health`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ status: 'ok', model: 'fake-colour-namer', encoder: 'sharp mean colour', backend: 'none (test)' });
    expect(health.uptimeS).toBeGreaterThanOrEqual(0);
    expect(health.captioned).toBe(fake.calls);

    const page = await fetch(`${url}/`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('id="file"');
    expect(html).toContain('fake-colour-namer');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href="(?!data:)/); // self-contained: nothing fetched from elsewhere
    // The CSP allows exactly the inline script that the page holds (by hash), and nothing from elsewhere.
    const csp = page.headers.get('content-security-policy') ?? '';
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1]!;
    const { createHash } = await import('node:crypto');
    expect(csp).toContain(`'sha256-${createHash('sha256').update(script).digest('base64')}'`);
    expect(csp).toContain("default-src 'none'");

    const missing = await fetch(`${url}/nope`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as Record<string, unknown>).code).toBe('NOT_FOUND');
  });
});

describe('capgen serve when the model fails or is busy', async () => {
  const red = await solidImage([240, 16, 16]);

  it('turns a bad-input error from the captioner into a 422 and a bug into a 500, and keeps serving', async () => {
    let failWith: Error | undefined = new CapgenError('BAD_INPUT', 'the encoder cannot read this image');
    const fake = fakeCaptioner();
    const { url } = await startServer({
      captioner: { ...fake, caption: (img, o) => (failWith ? Promise.reject(failWith) : fake.caption(img, o)) },
      maxUploadBytes: MB,
    });
    const bad = await postCaption(url, imageForm(red));
    expect(bad).toMatchObject({ status: 422, body: { code: 'BAD_IMAGE', error: 'the encoder cannot read this image' } });
    failWith = new Error('tensor shape bug');
    const bug = await postCaption(url, imageForm(red));
    expect(bug).toMatchObject({ status: 500, body: { code: 'INTERNAL' } });
    expect(JSON.stringify(bug.body)).not.toContain('tensor shape bug'); // internals stay in the server log
    failWith = undefined;
    expect((await postCaption(url, imageForm(red))).status).toBe(200);
  });

  it('answers 503 when the backlog is full, then recovers', async () => {
    const fake = fakeCaptioner({ delayMs: 150 });
    const { url } = await startServer({ captioner: fake, maxUploadBytes: MB, maxQueuedRequests: 2 });
    const results = await Promise.all(Array.from({ length: 5 }, () => postCaption(url, imageForm(red))));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(2);
    expect(statuses).toContain(503);
    expect(results.find((r) => r.status === 503)!.body.code).toBe('BUSY');
    expect((await postCaption(url, imageForm(red))).status).toBe(200);
  });

  it('frees the model when the server closes', async () => {
    const fake = fakeCaptioner();
    const { app } = await startServer({ captioner: fake, maxUploadBytes: MB });
    await app.close();
    expect(fake.disposed).toBe(true);
  });
});

describe('capgen serve --beam-size', async () => {
  const { url } = await startServer({ captioner: fakeCaptioner(), maxUploadBytes: 1 * MB, beamSize: 5 });

  it('decodes requests without beam with that width, and the page preselects it', async () => {
    const res = await postCaption(url, imageForm(await solidImage([16, 240, 16])));
    expect(res.status).toBe(200);
    expect(res.body.beamSize).toBe(5);
    expect((await postCaption(url, imageForm(await solidImage([16, 240, 16]), { beam: '1' }))).body.beamSize).toBe(1);
    const page = await (await fetch(url)).text();
    expect(page).toMatch(/<option value="5" selected>beam search, 5 beams<\/option>/);
    expect(page).not.toMatch(/<option value="3" selected>/);
  });
});
