// `capgen eval` on a tiny run folder built here: scores must be exactly scoreCaptions' on
// references re-cleaned from the raw captions; outputs (metrics.json, predictions.jsonl,
// report.html) must carry those numbers; model mode must caption like an independent decoding.
import { execFile } from 'node:child_process';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import { decodeFeatures } from '../../src/decode/index.js';
import { DEFAULT_EVAL_CONFIG, type EvalConfig } from '../../src/evaluate/config.js';
import { outputDiagnostics } from '../../src/evaluate/diagnostics.js';
import { cocoBleu } from '../../src/evaluate/metrics/coco-bleu.js';
import { scoreCaptions } from '../../src/evaluate/metrics/index.js';
import type { EvalRecord } from '../../src/evaluate/record.js';
import { runEval } from '../../src/evaluate/run.js';
import { openCacheWriter } from '../../src/features/cache.js';
import { defaultCheckpointDir, saveCheckpoint } from '../../src/model/checkpoint.js';
import { loadCheckpoint } from '../../src/engine/decoder.js';
import { initialWeights, type MergeLstmSizes } from '../../src/model/merge-lstm.js';
import { mulberry32 } from '../../src/util/random.js';
import type { EncoderIdentity, PreparedCaption, PrepareRecord } from '../../src/run/formats.js';
import { cleanCaption, DEFAULT_CLEANING } from '../../src/text/clean.js';
import { Vocabulary } from '../../src/text/vocabulary.js';
import { BIN, runCli, skipWithout, tempDir } from '../helpers.js';

const IMAGES: { image: string; split: 'train' | 'dev'; raws: string[] }[] = [
  {
    image: 'dog.jpg',
    split: 'dev',
    raws: ['A dog runs on the grass.', 'The brown dog is running!', 'a dog running', 'Dog on grass', 'A dog plays in a field'],
  },
  {
    image: 'b&w.png',
    split: 'dev',
    raws: [
      'Two children play on a beach.',
      'Kids at the beach',
      'two kids playing in the sand',
      'Children play by the sea',
      'a boy and a girl on a beach',
    ],
  },
  {
    image: 'gone.jpg',
    split: 'dev',
    raws: ['A man rides a red bike.', 'A cyclist on a road', 'a man on a bicycle', 'Man biking down the street', 'a person riding a bike'],
  },
  {
    image: 'nofeat.jpg',
    split: 'dev',
    raws: ['A cat sleeps on a sofa.', 'a sleeping cat', 'cat on the couch', 'The cat is asleep', 'a grey cat lies on a sofa'],
  },
  {
    image: 'train1.jpg',
    split: 'train',
    raws: ['A bird flies over water.', 'a bird in the sky', 'bird flying', 'A seagull above the sea', 'a white bird flying over a lake'],
  },
];
const IDENTITY: EncoderIdentity = {
  architecture: 'seeded-cnn',
  weightsHash: 'seeded:1',
  layer: 'test',
  preprocess: 'unit',
  resize: 'squash',
  pooling: 'avg',
  inputSize: [32, 32],
  featureShape: [6],
};
const FEATURES_DIR = 'features/seeded-cnn-test';

/** A run folder as prepare and train leave it: images (one missing), captions, features, history.png. */
async function buildRun(root: string): Promise<{ runDir: string; imagesDir: string }> {
  const runDir = path.join(root, 'run');
  const imagesDir = path.join(root, 'images');
  await fs.mkdir(path.join(runDir, 'train'), { recursive: true });
  await fs.mkdir(imagesDir, { recursive: true });
  const solid = (r: number, g: number, b: number) => sharp({ create: { width: 40, height: 30, channels: 3, background: { r, g, b } } });
  await solid(200, 120, 40).jpeg().toFile(path.join(imagesDir, 'dog.jpg'));
  await solid(20, 120, 240).png().toFile(path.join(imagesDir, 'b&w.png'));
  await solid(90, 200, 90).jpeg().toFile(path.join(imagesDir, 'nofeat.jpg'));
  await solid(255, 255, 255)
    .png()
    .toFile(path.join(runDir, 'train', 'history.png'));
  const record: PrepareRecord = {
    createdAt: 'test',
    capgenVersion: 'test',
    config: { imagesDir },
    cleaning: DEFAULT_CLEANING,
    maxCaptionLength: 8,
    stats: {},
    features: { dir: FEATURES_DIR, encoder: IDENTITY, dtype: 'float32' },
  };
  await fs.writeFile(path.join(runDir, 'prepare.json'), JSON.stringify(record));
  // tokens deliberately wrong: eval must re-clean the raw captions with the checkpoint's rules
  const rows: PreparedCaption[] = IMAGES.flatMap((i) => i.raws.map((raw) => ({ image: i.image, split: i.split, raw, tokens: ['WRONG'] })));
  await fs.writeFile(path.join(runDir, 'captions.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const writer = await openCacheWriter(path.join(runDir, FEATURES_DIR), { identity: IDENTITY, dtype: 'float32', dim: 6 });
  const rand = mulberry32(9);
  const named = ['dog.jpg', 'b&w.png', 'gone.jpg', 'train1.jpg'];
  await writer.append(
    named,
    Float32Array.from({ length: named.length * 6 }, () => rand() * 2),
  );
  await writer.close();
  return { runDir, imagesDir };
}

/** Tensors that loading and disposing a checkpoint leaves behind: must be none. Eval must add none either. */
async function tensorsLeftByLoading(dir: string): Promise<number> {
  const before = tf.memory().numTensors;
  const { model } = await loadCheckpoint(dir);
  model.dispose();
  return tf.memory().numTensors - before;
}

const CHROMIUM = process.env.CAPGEN_CHROMIUM ?? '/usr/bin/chromium';
const SKIP_CHROMIUM = skipWithout(existsSync(CHROMIUM), 'Chromium', `${CHROMIUM} is absent (install it with: apt-get install -y chromium)`);

const referencesOf = (image: string) => IMAGES.find((i) => i.image === image)!.raws.map((r) => cleanCaption(r, DEFAULT_CLEANING));
const readJsonLines = (file: string) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

describe('capgen eval --predictions', () => {
  const root = tempDir('capgen-eval-');
  let runDir: string;
  const predictions = [
    { image: 'dog.jpg', caption: 'A dog is running on the grass.' },
    { image: 'b&w.png', caption: 'Two kids play at the beach!' },
    { image: 'some/folder/gone.jpg', caption: 'a man riding a bike' }, // matched by file name
  ];
  let predictionsFile: string;

  beforeAll(async () => {
    ({ runDir } = await buildRun(root));
    predictionsFile = path.join(root, 'predictions-in.jsonl');
    await fs.writeFile(predictionsFile, predictions.map((p) => JSON.stringify(p)).join('\n') + '\n');
  });

  it('writes metrics.json, predictions.jsonl and report.html with the numbers of scoreCaptions', async () => {
    const outDir = path.join(root, 'out');
    const config: EvalConfig = { ...DEFAULT_EVAL_CONFIG, runDir, predictionsFile, outDir, smoothing: 'method1', backend: 'wasm' };
    const { record, files } = await runEval(config);
    const refs = predictions.map((p) => referencesOf(path.basename(p.image)));
    const hyps = predictions.map((p) => cleanCaption(p.caption, DEFAULT_CLEANING));
    const expected = scoreCaptions(refs, hyps, { smoothing: 'method1' });

    const onDisk = JSON.parse(readFileSync(path.join(outDir, 'metrics.json'), 'utf8')) as EvalRecord;
    for (const r of [record, onDisk]) {
      expect(r.metrics).toEqual({
        bleu1: expected.bleu1,
        bleu2: expected.bleu2,
        bleu3: expected.bleu3,
        bleu4: expected.bleu4,
        meanSentenceBleu4: expected.meanSentenceBleu4,
        ciderD: expected.ciderD,
        rougeL: expected.rougeL,
        meteor: expected.meteor,
      });
      expect(r).toMatchObject({
        split: 'dev',
        images: 3,
        references: 15,
        cleaning: DEFAULT_CLEANING,
        source: { kind: 'predictions', file: predictionsFile },
      });
      expect(r.bleu).toMatchObject({ smoothing: 'method1', brevityPenalty: expected.bleuDetails.brevityPenalty });
      expect(r.elapsedSeconds.total).toBeGreaterThan(0);
      const coco = cocoBleu(refs, hyps).bleu;
      expect(r.cocoBleu).toMatchObject({ bleu1: coco[0], bleu2: coco[1], bleu3: coco[2], bleu4: coco[3] });
      expect(r.cocoBleu.convention).toMatch(/pycocoevalcap/);
      expect(r.diagnostics).toEqual(outputDiagnostics(hyps, refs));
      expect(r.protocol).toBe(
        'protocol: dev split, 3 images, 5.0 references per image; tokens lower-cased, punctuation deleted, non-alphabetic tokens dropped, one-letter words ("a") kept (natural.WordTokenizer); ' +
          'BLEU as NLTK corpus_bleu, smoothing method1; coco-caption BLEU unsmoothed; both on the same tokens',
      );
    }
    expect(expected.bleu4).toBeGreaterThan(0); // the fixture is not degenerate

    const rows = readJsonLines(files.predictions);
    expect(rows.map((r) => r.image)).toEqual(['dog.jpg', 'b&w.png', 'gone.jpg']);
    rows.forEach((row, i) => {
      expect(row.caption).toBe(hyps[i].join(' '));
      expect(row.references).toEqual(refs[i].map((t) => t.join(' ')));
      expect(row.bleu4).toBe(expected.perImage[i].bleu4);
      expect(row.ciderD).toBe(expected.perImage[i].ciderD);
    });

    const html = readFileSync(files.report, 'utf8');
    expect(html.match(/<img src="data:image\/jpeg;base64,/g)).toHaveLength(2); // dog.jpg and b&w.png
    expect(html).toContain('image not found'); // gone.jpg has no file
    expect(html).toContain('data:image/png;base64,'); // the training curves
    expect(html).toContain('data-image="b&amp;w.png"');
    for (const k of ['bleu1', 'bleu4', 'meanSentenceBleu4', 'ciderD', 'rougeL', 'meteor'] as const) {
      expect(html).toContain(`data-metric="${k}">${expected[k].toFixed(4)}<`);
    }
    for (const h of hyps) expect(html).toContain(`<div class="generated">${h.join(' ')}</div>`);
    expect(html).toContain(`data-cider="${expected.perImage[0].ciderD}"`);
    expect(html).toContain(`data-metric="coco-bleu4">${record.cocoBleu.bleu4.toFixed(4)}<`);
    expect(html).toContain(`<p class="protocol">${record.protocol.replace(/"/g, '&quot;')}</p>`);
    expect(html).toMatch(/<table class="metrics" id="diagnostics">.*Distinct captions<\/th><td>100\.0%/);
    expect(html).not.toMatch(/<(link|script) [^>]*src=/); // nothing loaded from outside
  });

  it.skipIf(SKIP_CHROMIUM)(
    'report.html opens from disk and sorts the images by score',
    async () => {
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--no-sandbox', '--headless', '--disable-gpu', '--no-first-run'],
      });
      try {
        const page = await browser.newPage();
        await page.goto(`file://${path.join(root, 'out', 'report.html')}`);
        const order = () => page.$$eval('.card', (cards) => cards.map((c) => c.getAttribute('data-image')));
        const rows = readJsonLines(path.join(root, 'out', 'predictions.jsonl')) as { image: string; bleu4: number; ciderD: number }[];
        const by = (key: 'bleu4' | 'ciderD', dir: 1 | -1) =>
          [...rows].sort((a, b) => dir * (a[key] - b[key]) || a.image.localeCompare(b.image)).map((r) => r.image);
        expect(await order()).toEqual(by('ciderD', 1)); // worst CIDEr-D first by default
        await page.selectOption('#sort', 'bleu4:desc');
        expect(await order()).toEqual(by('bleu4', -1));
        await page.selectOption('#sort', 'image:asc');
        expect(await order()).toEqual(rows.map((r) => r.image).sort((a, b) => a.localeCompare(b)));
        expect(
          await page.$$eval('img', (imgs) => imgs.filter((i) => (i as unknown as { naturalWidth: number }).naturalWidth > 0).length),
        ).toBe(3); // 2 thumbnails + curves
      } finally {
        await browser.close();
      }
    },
    60_000,
  );

  it('names the line of a bad predictions file, and an image without references', async () => {
    const bad = path.join(root, 'bad.jsonl');
    await fs.writeFile(bad, `${JSON.stringify(predictions[0])}\n{"image": "dog.jpg"}\n`);
    await expect(runEval({ ...DEFAULT_EVAL_CONFIG, runDir, predictionsFile: bad, outDir: path.join(root, 'x') })).rejects.toMatchObject({
      code: 'BAD_INPUT',
      file: bad,
      line: 2,
    });
    await fs.writeFile(bad, `${JSON.stringify(predictions[0])}\n${JSON.stringify(predictions[0])}\n`);
    await expect(runEval({ ...DEFAULT_EVAL_CONFIG, runDir, predictionsFile: bad, outDir: path.join(root, 'x') })).rejects.toMatchObject({
      code: 'BAD_INPUT',
      line: 2,
    });
    await fs.writeFile(bad, `${JSON.stringify({ image: 'elsewhere.jpg', caption: 'a dog' })}\n`);
    await expect(runEval({ ...DEFAULT_EVAL_CONFIG, runDir, predictionsFile: bad, outDir: path.join(root, 'x') })).rejects.toThrow(
      /elsewhere\.jpg.*no reference/,
    );
  });

  it('runs from the CLI: --json on stdout, exit 2 with file:line on bad input', async () => {
    const outDir = path.join(root, 'cli-out');
    const ok = await runCli(['eval', '--run', runDir, '--predictions', predictionsFile, '--out', outDir, '--json', '--no-thumbnails']);
    expect(ok.code, ok.stderr).toBe(0);
    const record = JSON.parse(ok.stdout) as EvalRecord;
    const fromFile = JSON.parse(readFileSync(path.join(outDir, 'metrics.json'), 'utf8')) as EvalRecord;
    expect(record.metrics).toEqual(fromFile.metrics);
    const table = await runCli(['eval', '--run', runDir, '--predictions', predictionsFile, '--out', outDir, '--no-thumbnails']);
    expect(table.stdout).toContain(fromFile.protocol);
    expect(table.stdout).toMatch(new RegExp(`BLEU-4 \\(coco-caption\\)\\s+${fromFile.cocoBleu.bleu4.toFixed(4)}`));
    expect(table.stdout).toMatch(/captions: 100\.0% distinct/);
    expect(readFileSync(path.join(outDir, 'report.html'), 'utf8')).not.toContain('data:image/jpeg');
    const bad = path.join(root, 'bad-cli.jsonl');
    await fs.writeFile(bad, `${JSON.stringify(predictions[0])}\nnot json\n`);
    const failed = await runCli(['eval', '--run', runDir, '--predictions', bad, '--out', outDir]);
    expect(failed.code).toBe(2);
    expect(failed.stderr).toContain(`${bad}:2: not valid JSON`);
  }, 60_000);

  it('prints each output warning once on a terminal (in the table too when stdout is a file); report.html shows relative paths', async () => {
    const same = path.join(root, 'same-caption.jsonl');
    await fs.writeFile(same, predictions.map((p) => JSON.stringify({ ...p, caption: 'a dog runs' })).join('\n') + '\n');
    const args = ['eval', '--run', runDir, '--predictions', same, '--out', path.join(root, 'warn-out'), '--no-thumbnails'];
    const piped = await runCli(args);
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout).toMatch(/^WARNING: /m); // a saved table keeps its warnings
    expect(piped.stderr).toMatch(/^warning: eval: /m);
    // report.html names files relative to itself, never by the absolute paths of the machine it was made on
    const html = readFileSync(path.join(root, 'warn-out', 'report.html'), 'utf8');
    expect(html).not.toContain(root);
    expect(html).toContain('predictions from <code>../same-caption.jsonl</code>');
    // script(1) gives the command a terminal for stdout and stderr alike: one screen, one copy.
    const command = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const tty = await new Promise<string>((resolve, reject) =>
      execFile('script', ['-qec', command, '/dev/null'], { env: { ...process.env, CAPGEN_BACKEND: 'wasm' } }, (e, stdout) =>
        e ? reject(e) : resolve(stdout),
      ),
    );
    const shown = tty.split(/\r?\n/).filter((l) => /"a dog runs" is the caption of/.test(l));
    expect(shown).toHaveLength(1);
  }, 60_000);
});

describe('capgen eval with a checkpoint', () => {
  const root = tempDir('capgen-eval-model-');
  let runDir: string;
  const sizes: MergeLstmSizes = { vocabSize: 0, embeddingSize: 8, hiddenSize: 12, featureSize: 6, dropout: 0 };
  let vocab: Vocabulary;

  beforeAll(async () => {
    await initBackend('wasm');
    ({ runDir } = await buildRun(root));
    const counts = new Map<string, number>();
    for (const i of IMAGES) for (const r of i.raws) for (const t of cleanCaption(r)) counts.set(t, (counts.get(t) ?? 0) + 1);
    vocab = Vocabulary.build(counts, 1);
    sizes.vocabSize = vocab.size;
    const weights = initialWeights(sizes, 5);
    weights['output.kernel'] = weights['output.kernel'].map((x) => x * 8); // captions that differ per image
    weights['image.kernel'] = weights['image.kernel'].map((x) => x * 4);
    const meta = {
      architecture: 'merge-lstm',
      ...sizes,
      vocab: vocab.toFile(),
      cleaning: DEFAULT_CLEANING,
      encoder: IDENTITY,
      maxCaptionLength: 8,
      trainConfig: {},
      epoch: 2,
      metrics: {},
      createdAt: 'test',
    };
    await saveCheckpoint(defaultCheckpointDir(runDir), { meta, weights });
    await saveCheckpoint(path.join(root, 'other-encoder'), {
      meta: { ...meta, encoder: { ...IDENTITY, weightsHash: 'seeded:2' } },
      weights,
    });
  });

  it('captions the split like an independent decoding, and scores those captions', async () => {
    const outDir = path.join(root, 'out');
    const loadingLeak = await tensorsLeftByLoading(defaultCheckpointDir(runDir));
    expect(loadingLeak).toBe(0);
    // 1 of the 4 dev images has no feature: more than a stray, so eval refuses (a damaged cache)...
    const config = {
      ...DEFAULT_EVAL_CONFIG,
      runDir,
      split: 'dev' as const,
      beamSize: 2,
      lengthPenalty: 0.5,
      batchSize: 2,
      outDir,
      backend: 'wasm' as const,
    };
    await expect(runEval(config)).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/^1 of 4 dev images have no usable cached feature/),
    });
    // ...until prepare has computed it
    const writer = await openCacheWriter(path.join(runDir, FEATURES_DIR), { identity: IDENTITY, dtype: 'float32', dim: 6 });
    await writer.append(['nofeat.jpg'], Float32Array.from([0.1, 0.5, 0.9, 1.3, 0.2, 0.7]));
    await writer.close();
    const tensorsBefore = tf.memory().numTensors;
    const { record, files } = await runEval(config);
    expect(tf.memory().numTensors - tensorsBefore).toBe(loadingLeak); // decoding frees everything it makes
    // independent: the same vectors from the cache, decoded in one batch
    const images = ['dog.jpg', 'b&w.png', 'gone.jpg', 'nofeat.jpg'];
    const { model } = await loadCheckpoint(defaultCheckpointDir(runDir));
    const { openFeatureCache } = await import('../../src/features/cache.js');
    const cache = await openFeatureCache(path.join(runDir, FEATURES_DIR));
    const decoded = await decodeFeatures(
      model,
      images.map((i) => cache.get(i)!),
      { maxLength: 8, beamSize: 2, lengthPenalty: 0.5, blockNgrams: DEFAULT_EVAL_CONFIG.blockNgrams },
    );
    cache.close();
    model.dispose();
    const hyps = decoded.map((d) => vocab.decode(d.tokens));
    const refs = images.map(referencesOf);
    const expected = scoreCaptions(refs, hyps);

    const rows = readJsonLines(files.predictions);
    expect(rows.map((r) => r.image)).toEqual(images);
    expect(rows.map((r) => r.caption)).toEqual(hyps.map((h) => h.join(' ')));
    rows.forEach((r, i) => expect(r.logProb).toBeCloseTo(decoded[i].logProb, 5));
    expect(record.metrics.ciderD).toBe(expected.ciderD);
    expect(record.metrics.bleu2).toBe(expected.bleu2);
    expect(record).toMatchObject({
      split: 'dev',
      images: 4,
      source: { kind: 'model', epoch: 2, decoding: { maxLength: 8, beamSize: 2, lengthPenalty: 0.5, blockNgrams: 2, batchSize: 2 } },
      skipped: [],
    });
    expect(record.elapsedSeconds.decoding).toBeGreaterThan(0);
  });

  it('says to use --split dev when the test split is empty', async () => {
    await expect(
      runEval({ ...DEFAULT_EVAL_CONFIG, runDir, split: 'test', outDir: path.join(root, 'x'), backend: 'wasm' }),
    ).rejects.toMatchObject({
      code: 'USAGE',
      hint: expect.stringMatching(/--split dev/),
    });
  });

  it('refuses features from another encoder than the checkpoint was trained on', async () => {
    await expect(
      runEval({
        ...DEFAULT_EVAL_CONFIG,
        runDir,
        split: 'dev',
        checkpointDir: path.join(root, 'other-encoder'),
        outDir: path.join(root, 'x'),
        backend: 'wasm',
      }),
    ).rejects.toMatchObject({ code: 'MISMATCH', message: expect.stringMatching(/weightsHash/) });
  });
});
