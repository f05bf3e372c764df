// Defect 10: hints that pointed nowhere, and small surprises. Each case below printed a wrong flag,
// a misleading fix, a mangled line, a stack trace, nothing at all, or an ambiguous line.
import { existsSync, promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it, vi } from 'vitest';
import { escapeField } from '../../src/cli/caption.js';
import { beamSearch, greedySearch } from '../../src/decode/index.js';
import type { StepDecoder } from '../../src/model/step-decoder.js';
import { decodeUtf8 } from '../../src/prepare/text-file.js';
import { parseKaggleCaptions } from '../../src/prepare/readers/kaggle.js';
import { SPECIAL_IDS } from '../../src/run/formats.js';
import { BIN, runCli, tempDir } from '../helpers.js';
import { fakeCaptioner } from '../serve/fake-captioner.js';
import { startServer } from '../serve/fixtures.js';
import { expectOneLineError, SCENES, trainedRun } from './fixtures.js';

/** A weak model: at every step the end token is the likeliest (p = 0.6), words share the rest. */
class EndFirstModel implements StepDecoder {
  readonly vocabSize = 8;
  initState(features: tf.Tensor2D): tf.Tensor[] {
    return [tf.clone(features)];
  }
  step(tokens: tf.Tensor1D, state: tf.Tensor[]): { logProbs: tf.Tensor2D; state: tf.Tensor[] } {
    const row = Array.from({ length: this.vocabSize }, (_, id) => (id === SPECIAL_IDS.end ? 0.6 : id >= 4 ? 0.1 : 1e-6));
    const logProbs = tf.log(tf.tile(tf.tensor2d([row]), [tokens.shape[0], 1])) as tf.Tensor2D;
    return { logProbs, state: [tf.clone(state[0])] };
  }
}

describe('hints and small surprises (unit)', () => {
  it('a UTF-16 caption file is named as such, with the iconv line for UTF-16', () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('image,caption\n', 'utf16le')]);
    expect(() => decodeUtf8(utf16, 'captions.txt')).toThrow(
      /the file is UTF-16LE text \(it starts with a UTF-16LE byte-order mark\), not UTF-8/,
    );
    try {
      decodeUtf8(utf16, 'captions.txt');
    } catch (e) {
      expect((e as { hint: string }).hint).toBe('re-save it as UTF-8, e.g. `iconv -f UTF-16LE -t UTF-8`');
    }
  });

  it('the Kaggle header error shows the line as written, spaces kept', () => {
    expect(() => parseKaggleCaptions('image name, caption text\na.jpg,a dog\n', 'captions.txt')).toThrow(
      "expected the header 'image,caption', found 'image name, caption text'",
    );
  });

  it("a tab or newline in a file name cannot split caption's image<TAB>caption line", () => {
    expect(escapeField('holiday\tphoto.jpg')).toBe('holiday\\tphoto.jpg');
    expect(escapeField('a\\b\nc\r.png')).toBe('a\\\\b\\nc\\r.png');
    expect(escapeField('plain.jpg')).toBe('plain.jpg');
  });

  it('a caption has at least one word: beam search and greedy never return an empty caption', () => {
    const model = new EndFirstModel();
    const features = tf.tensor2d([[0.5], [0.2]]);
    for (const c of [
      ...beamSearch(model, features, { maxLength: 5, beamSize: 3, lengthPenalty: 0 }),
      ...greedySearch(model, features, 5),
    ]) {
      expect(c.tokens.length).toBeGreaterThanOrEqual(1);
    }
    tf.dispose(features);
  });

  it('serve: a client that aborts its upload gets one warning line, not a stack trace', async () => {
    const { url } = await startServer({ captioner: fakeCaptioner(), maxUploadBytes: 2 ** 20 });
    const port = Number(new URL(url).port);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      for (const head of ['Content-Type: image/jpeg', 'Content-Type: multipart/form-data; boundary=XX']) {
        const socket = net.connect(port, '127.0.0.1');
        await new Promise((resolve) => socket.on('connect', resolve));
        socket.write(
          `POST /api/caption HTTP/1.1\r\nHost: x\r\n${head}\r\nContent-Length: 100000\r\n\r\n--XX\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\n${'a'.repeat(1000)}`,
        );
        await new Promise((resolve) => setTimeout(resolve, 200));
        socket.destroy();
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      const printed = stderr.mock.calls.map((c) => String(c[0])).join('');
      expect(printed).toMatch(/^warning: serve: the client closed the connection during the upload \(POST \/api\/caption\)$/m);
      expect(printed).not.toMatch(/^\s+at /m);
    } finally {
      stderr.mockRestore();
    }
  });
});

describe.skipIf(!existsSync(BIN))('hints that point somewhere (CLI)', () => {
  const root = tempDir('capgen-hints-');

  it('a captions-only run: train names --encoder none, not a flag that does not exist', async () => {
    const run = path.join(root, 'captions-only');
    const r0 = await runCli(['prepare', '--dataset', 'synthetic', '--count', SCENES, '--out', run, '--encoder', 'none']);
    expect(r0.code, r0.stderr).toBe(0);
    const r = await runCli(['train', '--run', run, '--epochs', '1']);
    expectOneLineError(r, /this run has no image features \(run `capgen prepare` with an encoder \(not --encoder none\)\)/);
    expect(r.stderr).not.toMatch(/--features/);
  }, 120_000);

  it('train --resume without a checkpoint does not suggest --checkpoint (train has no such flag); --replicas above the cores is said', async () => {
    const run = await trainedRun(path.join(root, 'run'));
    await fs.rm(path.join(run, 'train', 'last'), { recursive: true });
    const r = await runCli(['train', '--run', run, '--resume', '--epochs', '2', '--replicas', '64']);
    // best/ without last/: what is missing, not "train a model first" (messages.test.ts)
    expectOneLineError(r, /train\/last: nothing to resume: this run has train\/best but no train\/last/);
    expect(r.stderr).not.toMatch(/--checkpoint/);
    expect(r.stderr).toMatch(/warning: --replicas 64 is more than the \d+ cores here/);
  }, 120_000);

  it('caption escapes a tab in an image name, so each output line has exactly one tab', async () => {
    const run = path.join(root, 'run');
    const tabbed = path.join(root, 'two\tparts.png');
    await fs.copyFile(path.join(run, 'dataset', 'Images', 'scene_00040.png'), tabbed);
    const r = await runCli(['caption', '--checkpoint', path.join(run, 'train', 'best'), tabbed]);
    expect(r.code, r.stderr).toBe(0);
    const line = r.stdout.trim();
    expect(line.split('\t')).toHaveLength(2);
    expect(line.startsWith(`${root}/two\\tparts.png\t`)).toBe(true);
  }, 120_000);
});
