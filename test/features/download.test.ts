// The one-time weights download, against a local HTTP server: success, wrong hash, a connection cut
// mid-way, and no server at all. A failed download must never leave a file that looks complete.
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capgenCacheDir, downloadOnce, findKerasCopy, kerasModelsDir } from '../../src/features/download.js';
import { RESNET50_WEIGHTS, resolveResNet50Weights } from '../../src/features/encoders/resnet50/load.js';
import { tempDir } from '../helpers.js';

const body = Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 31) % 251));
const md5 = createHash('md5').update(body).digest('hex');

describe('downloadOnce', () => {
  const dir = tempDir('capgen-dl-');
  let server: http.Server;
  let base = '';
  let requests = 0;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      requests++;
      if (req.url === '/cut') {
        res.writeHead(200, { 'content-length': String(body.length) });
        res.write(body.subarray(0, 1000), () => res.destroy());
        return;
      }
      if (req.url === '/missing') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-length': String(body.length) }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const leftovers = async (sub: string) => (existsSync(path.join(dir, sub)) ? await fs.readdir(path.join(dir, sub)) : []);

  it('downloads, checks the md5, and does not download again', async () => {
    const dest = path.join(dir, 'ok', 'weights.h5');
    await downloadOnce({ url: `${base}/file`, dest, md5 });
    expect((await fs.readFile(dest)).equals(body)).toBe(true);
    const before = requests;
    await downloadOnce({ url: `${base}/file`, dest, md5 });
    expect(requests).toBe(before);
    expect(await leftovers('ok')).toEqual(['weights.h5']);
  });

  it('leaves nothing behind on a wrong hash, a cut connection or an HTTP error', async () => {
    const dest = path.join(dir, 'bad', 'weights.h5');
    await expect(downloadOnce({ url: `${base}/file`, dest, md5: '0'.repeat(32) })).rejects.toMatchObject({
      code: 'NETWORK',
      message: expect.stringMatching(/md5/),
    });
    await expect(downloadOnce({ url: `${base}/cut`, dest, md5 })).rejects.toMatchObject({ code: 'NETWORK' });
    await expect(downloadOnce({ url: `${base}/missing`, dest, md5 })).rejects.toMatchObject({ message: expect.stringMatching(/HTTP 404/) });
    expect(await leftovers('bad')).toEqual([]);
  });

  it('offline: says which file to fetch and where to put it', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const dest = path.join(dir, 'offline', 'weights.h5');
    const err = await downloadOnce({ url: `http://127.0.0.1:${port}/w.h5`, dest, md5 }).catch((e) => e);
    expect(err.code).toBe('NETWORK');
    expect(err.oneLine()).toContain(`http://127.0.0.1:${port}/w.h5`);
    expect(err.oneLine()).toContain(dest);
  });

  it('uses the weights already in $CAPGEN_CACHE without any network', async () => {
    const cache = path.join(dir, 'cache');
    await fs.mkdir(cache);
    await fs.writeFile(path.join(cache, RESNET50_WEIGHTS.file), 'x');
    const saved = process.env.CAPGEN_CACHE;
    process.env.CAPGEN_CACHE = cache;
    try {
      expect(await resolveResNet50Weights()).toBe(path.join(cache, RESNET50_WEIGHTS.file));
    } finally {
      if (saved === undefined) delete process.env.CAPGEN_CACHE;
      else process.env.CAPGEN_CACHE = saved;
    }
    await expect(resolveResNet50Weights(path.join(dir, 'nope.h5'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('weights cache location', () => {
  const dir = tempDir('capgen-cache-');

  it('$CAPGEN_CACHE, then an absolute $XDG_CACHE_HOME/capgen, then ~/.cache/capgen', () => {
    const home = os.homedir();
    expect(capgenCacheDir({ CAPGEN_CACHE: '/c/capgen-here', XDG_CACHE_HOME: '/x' })).toBe('/c/capgen-here');
    expect(capgenCacheDir({ XDG_CACHE_HOME: '/x/cache' })).toBe(path.join('/x/cache', 'capgen'));
    expect(capgenCacheDir({ XDG_CACHE_HOME: 'relative/cache' })).toBe(path.join(home, '.cache', 'capgen'));
    expect(capgenCacheDir({})).toBe(path.join(home, '.cache', 'capgen'));
  });

  it("reuses a Keras user's ~/.keras/models copy only when its md5 is the published one", async () => {
    const kerasHome = path.join(dir, 'keras');
    await fs.mkdir(path.join(kerasHome, 'models'), { recursive: true });
    const file = 'weights_notop.h5';
    await fs.writeFile(path.join(kerasHome, 'models', file), body);
    expect(kerasModelsDir({ KERAS_HOME: kerasHome })).toBe(path.join(kerasHome, 'models'));
    expect(kerasModelsDir({})).toBe(path.join(os.homedir(), '.keras', 'models'));
    expect(await findKerasCopy(file, md5, { KERAS_HOME: kerasHome })).toEqual({ path: path.join(kerasHome, 'models', file) });
    const wrong = await findKerasCopy(file, '0'.repeat(32), { KERAS_HOME: kerasHome });
    expect(wrong.path).toBeUndefined();
    expect(wrong.rejected).toContain(md5);
    expect(await findKerasCopy('absent.h5', md5, { KERAS_HOME: kerasHome })).toEqual({});
  });
});
