// `capgen serve` over a real (tiny) checkpoint: a synthetic run prepared and trained by the built CLI,
// served in-process; 50 concurrent requests must give exactly the captions that `capgen caption` (a child
// process) and an in-process batch decoding give for the same image files, without leaking tensors.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { decodeFeatures } from '../../src/decode/index.js';
import { embedImageFiles, loadEncoder } from '../../src/features/load-encoder.js';
import { loadCheckpoint } from '../../src/engine/decoder.js';
import { startServe, type ServeHandle } from '../../src/serve/run.js';
import { Vocabulary } from '../../src/text/vocabulary.js';
import { BIN, REPO_ROOT, runCli, tempDir } from '../helpers.js';
import { imageForm, postCaption } from './fixtures.js';

const IMAGE_COUNT = 10; // distinct images; each is sent 5 times in the 50-request burst

describe('capgen serve with a tiny trained checkpoint', () => {
  const runDir = path.join(tempDir('capgen-serve-real-'), 'run');
  let images: string[];
  let server: ServeHandle;

  beforeAll(async () => {
    // Small but trained enough that different scenes get different captions (else "identical answers" proves little).
    const prepare = await runCli([
      'prepare',
      '--dataset',
      'synthetic',
      '--count',
      '80',
      '--seed',
      '3',
      '--out',
      runDir,
      '--encoder',
      'seeded-cnn',
      '--min-count',
      '1',
      '--quiet',
    ]);
    expect(prepare.code, prepare.stderr).toBe(0);
    const train = await runCli([
      'train',
      '--run',
      runDir,
      '--epochs',
      '6',
      '--lr',
      '0.01',
      '--embedding-size',
      '32',
      '--hidden-size',
      '64',
      '--batch-size',
      '32',
      '--quiet',
    ]);
    expect(train.code, train.stderr).toBe(0);
    const imagesDir = path.join(runDir, 'dataset', 'Images');
    images = readdirSync(imagesDir)
      .sort()
      .slice(0, IMAGE_COUNT)
      .map((f) => path.join(imagesDir, f));
    await initBackend('wasm');
    server = await startServe({ runDir, host: '127.0.0.1', port: 0, maxUploadMb: 10, backend: 'wasm', lengthPenalty: 0, blockNgrams: 2 });
    return () => server.close();
  }, 240_000);

  /** Captions by another path: embed the files in one batch, decode them all in one batch. */
  async function referenceCaptions(beamSize: number): Promise<string[]> {
    const { meta, model } = await loadCheckpoint(path.join(runDir, 'train', 'best'));
    const encoder = await loadEncoder(meta.encoder);
    try {
      const vocab = Vocabulary.fromFile(meta.vocab);
      const { features, failed } = await embedImageFiles(encoder, images);
      expect(failed).toEqual([]);
      const decoded = await decodeFeatures(
        model,
        images.map((p) => features.get(p)!),
        { maxLength: meta.maxCaptionLength, beamSize, lengthPenalty: 0, blockNgrams: 2 },
      );
      return decoded.map((d) => vocab.decode(d.tokens).join(' '));
    } finally {
      model.dispose();
      encoder.dispose();
    }
  }

  /** What the CLI's `capgen caption --json` says for the same files. */
  async function cliCaptions(beamSize: number): Promise<string[]> {
    const res = await runCli([
      'caption',
      '--json',
      '--beam-size',
      String(beamSize),
      '--checkpoint',
      path.join(runDir, 'train', 'best'),
      ...images,
    ]);
    expect(res.code, res.stderr).toBe(0);
    const byImage = new Map(
      (JSON.parse(res.stdout) as { captions: { image: string; caption: string }[] }).captions.map((c) => [
        path.resolve(c.image),
        c.caption,
      ]),
    );
    return images.map((p) => byImage.get(path.resolve(p))!);
  }

  it('answers 50 concurrent requests exactly as `capgen caption` and batch decoding do, and frees every tensor', async () => {
    const expected = await cliCaptions(1);
    expect(await referenceCaptions(1)).toEqual(expected);
    expect(new Set(expected).size).toBeGreaterThan(1); // the model looks at the image
    const bytes = images.map((p) => readFileSync(p));
    await postCaption(server.url, imageForm(bytes[0]!, { type: 'image/png' })); // warm-up: kernels compiled, weights resident
    const tensorsBefore = tf.memory().numTensors;
    const started = performance.now();
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) => postCaption(server.url, imageForm(bytes[i % IMAGE_COUNT]!, { type: 'image/png' }))),
    );
    const elapsedMs = performance.now() - started;
    responses.forEach((res, i) => {
      expect(res.status).toBe(200);
      expect(res.body.caption).toBe(expected[i % IMAGE_COUNT]);
    });
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    process.stderr.write(`serve: 50 concurrent requests answered in ${Math.round(elapsedMs)} ms\n`);
  });

  it('gives the same best beam as `capgen caption --beam-size 3` and batch beam search', async () => {
    const expected = await cliCaptions(3);
    expect(await referenceCaptions(3)).toEqual(expected);
    for (let i = 0; i < 4; i++) {
      const res = await postCaption(server.url, imageForm(readFileSync(images[i]!), { type: 'image/png', beam: '3' }));
      expect(res.status).toBe(200);
      expect(res.body.caption).toBe(expected[i]);
      const beams = res.body.beams as { caption: string; score: number }[];
      expect(beams).toHaveLength(3);
      expect(beams[0]!.caption).toBe(expected[i]);
    }
  });

  it("shows visitors no server path: page, health, answers and errors hold the run folder's name, not its path", async () => {
    const absolute = path.resolve(runDir);
    const seen: string[] = [];
    const get = async (route: string) => {
      const text = await (await fetch(`${server.url}${route}`)).text();
      seen.push(text);
      return text;
    };
    const page = await get('/');
    const health = JSON.parse(await get('/api/health')) as { model: string; encoder: string };
    expect(health.model).toMatch(/^run \(merge-lstm, epoch \d+\)$/);
    expect(health.encoder).toMatch(/^seeded-cnn/);
    expect(page).toContain('run (merge-lstm, epoch');
    await get('/no/such/route');
    for (const beam of ['1', '3'])
      seen.push(JSON.stringify((await postCaption(server.url, imageForm(readFileSync(images[0]!), { type: 'image/png', beam }))).body));
    seen.push(JSON.stringify((await postCaption(server.url, Buffer.from('not an image'), { contentType: 'image/png' })).body));
    for (const text of seen) {
      expect(text).not.toContain(absolute);
      expect(text).not.toContain(path.dirname(absolute));
    }
    // --name replaces the folder name.
    const named = await startServe({
      runDir,
      host: '127.0.0.1',
      port: 0,
      maxUploadMb: 10,
      backend: 'wasm',
      lengthPenalty: 0,
      blockNgrams: 2,
      name: 'Shapes demo',
    });
    try {
      const namedHealth = (await (await fetch(`${named.url}/api/health`)).json()) as { model: string };
      expect(namedHealth.model).toMatch(/^Shapes demo \(merge-lstm, epoch \d+\)$/);
    } finally {
      await named.close();
    }
  });

  it('runs as `capgen serve`: prints its URL on stderr, serves, and exits 0 on SIGINT', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--run', runDir, '--port', '0', '--backend', 'wasm'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed:\n${stderr}`)), 60_000);
      child.stderr.on('data', (d) => {
        stderr += d;
        const match = /open (http:\/\/\S+?)\/ /.exec(stderr);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
    });
    const health = (await (await fetch(`${url}/api/health`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ status: 'ok', backend: expect.stringMatching(/WASM/), encoder: expect.stringMatching(/^seeded-cnn/) });
    const answer = await postCaption(url, readFileSync(images[0]!), { contentType: 'image/png' });
    expect(answer.status).toBe(200);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/stopped/);
    expect(stdout).toBe(''); // logs go to stderr
  });

  it('fails with one line and exit code 2 when the checkpoint is missing', async () => {
    const res = await runCli(['serve', '--checkpoint', path.join(runDir, 'no-such-checkpoint'), '--port', '0']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^capgen: error: .*no-such-checkpoint.*checkpoint/m);
    expect(res.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});
