// What visitors of `capgen serve` are told about the model: a name, never a server path; and the page's
// default decoding (beam 3).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderPage } from '../../src/serve/page.js';
import { publicModelName } from '../../src/serve/run.js';

describe('publicModelName', () => {
  it("is --name, else the run folder's base name, also when the checkpoint is named instead", () => {
    expect(publicModelName({ runDir: '/home/alice/runs/f8k' })).toBe('f8k');
    expect(publicModelName({ runDir: 'artifacts' })).toBe('artifacts');
    expect(publicModelName({ runDir: '.' })).toBe(path.basename(process.cwd()));
    expect(publicModelName({ runDir: 'artifacts', checkpoint: '/home/alice/runs/f8k/train/best' })).toBe('f8k');
    expect(publicModelName({ runDir: 'artifacts', checkpoint: '/srv/models/epoch12' })).toBe('epoch12');
    expect(publicModelName({ runDir: '/home/alice/runs/f8k', name: '  Flickr8k demo ' })).toBe('Flickr8k demo');
    expect(publicModelName({ runDir: '/home/alice/runs/f8k', name: ' ' })).toBe('f8k');
  });
});

describe('the page', () => {
  const info = { model: 'f8k (merge-lstm, epoch 9)', encoder: 'resnet50', backend: 'WASM' };
  it('selects beam 3 by default, greedy when beams up to 3 are not allowed', () => {
    const html = renderPage({ maxUploadBytes: 2 ** 20, maxBeamSize: 10, info }).html;
    expect(html).toMatch(/<option value="3" selected>beam search, 3 beams<\/option>/);
    expect(html.match(/ selected>/g)).toHaveLength(1);
    const greedyOnly = renderPage({ maxUploadBytes: 2 ** 20, maxBeamSize: 2, info }).html;
    expect(greedyOnly).toMatch(/<option value="1" selected>greedy<\/option>/);
  });
});
