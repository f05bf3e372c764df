// Captions images with the files `capgen export` writes, and nothing else: capgen-model.json, the
// encoder (a tfjs layers model) and the decoder's init/step graphs (tfjs graph models), loaded with
// TensorFlow.js' own loaders. Compiled to a plain ES module with no imports (tf is passed in), shipped
// in the web folder as capgen-model.js, used by the page and by the export tests in Node.
// Search is capgen's (src/decode): the same allowed tokens, top-k order, length penalty and tie-breaking.
import type * as tfTypes from '@tensorflow/tfjs';

type Tf = typeof tfTypes;

/** capgen-model.json as this module reads it (src/export/manifest.ts writes it). */
export interface ModelManifest {
  format: 'capgen-model';
  version: 1;
  vocabulary: string[];
  specialIds: { pad: number; start: number; end: number; unk: number };
  image: { inputSize: [number, number]; resize: 'squash' | 'crop'; preprocess: 'caffe' | 'tf' | 'torch' | 'unit'; featureShape: number[] };
  /** 'onnx' (export --format onnx): raw RGB pixels in, preprocessing inside the graph; this module reads 'layers-model'. */
  encoder: { path: string; format: 'layers-model' | 'onnx' };
  decoder: {
    architecture: string;
    featureShape: number[];
    init: { path: string; input: string; outputs: string[] };
    step: {
      path: string;
      inputs: { tokens: string; positions: string; state: string[] };
      outputs: { logProbs: string; state: string[]; attention?: string };
    };
  };
  /** blockNgrams: no n words in a row twice (absent in exports made before it existed: 0, off). */
  decoding: { maxLength: number; beamSize: number; lengthPenalty: number; blockNgrams?: number };
}

export interface Hypothesis {
  tokens: number[];
  caption: string;
  logProb: number;
  score: number;
  length: number;
  /** For attending decoders: one [regions] row per word (end token included). */
  attention?: number[][];
}

export interface CaptionOutput extends Hypothesis {
  beams: Hypothesis[];
}

const CAFFE_MEAN_BGR = [103.939, 116.779, 123.68];
const TORCH_MEAN = [0.485, 0.456, 0.406];
const TORCH_STD = [0.229, 0.224, 0.225];

/** capgen's preprocessing (src/features/preprocess.ts), op for op. x [N, H, W, 3] RGB 0..255. */
export function preprocess(tf: Tf, x: tfTypes.Tensor4D, mode: ModelManifest['image']['preprocess']): tfTypes.Tensor4D {
  return tf.tidy(() => {
    const f = x.toFloat();
    if (mode === 'caffe') return tf.sub(tf.reverse(f, -1), tf.tensor1d(CAFFE_MEAN_BGR)) as tfTypes.Tensor4D;
    if (mode === 'tf') return tf.sub(tf.div(f, 127.5), 1) as tfTypes.Tensor4D;
    if (mode === 'torch') return tf.div(tf.sub(tf.div(f, 255), tf.tensor1d(TORCH_MEAN)), tf.tensor1d(TORCH_STD)) as tfTypes.Tensor4D;
    return tf.div(f, 255) as tfTypes.Tensor4D;
  });
}

/** Source index of output pixel i when resizing srcSize -> outSize with nearest neighbour (libvips' rule when shrinking). */
function nearest(i: number, srcSize: number, outSize: number): number {
  return Math.min(srcSize - 1, Math.floor(((i + 0.5) * srcSize) / outSize));
}

/**
 * Decoded RGBA (a canvas' getImageData, or any [h, w, 4] bytes) -> [outH, outW, 3] RGB at the encoder's
 * input size: alpha flattened onto white, then nearest-neighbour 'squash' (stretch) or 'crop' (scale
 * the short side, centre crop), as capgen's sharp pipeline does.
 */
export function prepareImage(
  rgba: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  image: ModelManifest['image'],
): Uint8Array {
  const [outH, outW] = image.inputSize;
  let srcX0 = 0;
  let srcY0 = 0;
  let srcW = width;
  let srcH = height;
  if (image.resize === 'crop') {
    const scale = Math.max(outW / width, outH / height);
    srcW = Math.min(width, Math.round(outW / scale));
    srcH = Math.min(height, Math.round(outH / scale));
    srcX0 = Math.floor((width - srcW) / 2);
    srcY0 = Math.floor((height - srcH) / 2);
  }
  const out = new Uint8Array(outH * outW * 3);
  for (let y = 0; y < outH; y++) {
    const sy = srcY0 + nearest(y, srcH, outH);
    for (let x = 0; x < outW; x++) {
      const sx = srcX0 + nearest(x, srcW, outW);
      const s = (sy * width + sx) * 4;
      const a = rgba[s + 3] / 255;
      const o = (y * outW + x) * 3;
      for (let c = 0; c < 3; c++) out[o + c] = a === 1 ? rgba[s + c] : Math.round(rgba[s + c] * a + 255 * (1 - a));
    }
  }
  return out;
}

/** The words that would repeat an n-gram of `words` (src/decode/repeats.ts; copied: this module imports nothing). */
export function repeatedNgramTokens(words: readonly number[], n: number): Set<number> {
  const blocked = new Set<number>();
  if (n <= 0 || words.length < n) return blocked;
  const tail = words.length - (n - 1);
  for (let i = 0; i + n <= words.length; i++) {
    let same = true;
    for (let j = 0; j < n - 1 && same; j++) same = words[i + j] === words[tail + j];
    if (same) blocked.add(words[i + n - 1]);
  }
  return blocked;
}

/** Indices of a row, best first; ties keep the lower index first (tf.topk's order). */
function rankRow(row: Float32Array, count: number): number[] {
  const idx = Array.from(row.keys());
  idx.sort((a, b) => row[b] - row[a] || a - b);
  return idx.slice(0, count);
}

export interface Captioner {
  manifest: ModelManifest;
  /** pixels [h, w, 3] RGB at manifest.image.inputSize -> the caption (greedy when beamSize is 1). */
  caption(pixels: Uint8Array, opts?: { beamSize?: number; lengthPenalty?: number; blockNgrams?: number }): CaptionOutput;
  dispose(): void;
}

interface Models {
  encoder: tfTypes.LayersModel;
  init: tfTypes.GraphModel;
  step: tfTypes.GraphModel;
}

/** Loads capgen-model.json and its three models from a folder URL ending in '/'. */
export async function loadCaptioner(tf: Tf, baseUrl: string): Promise<Captioner> {
  const response = await fetch(new URL('capgen-model.json', baseUrl).href);
  if (!response.ok) throw new Error(`capgen-model.json: HTTP ${response.status}`);
  const manifest = (await response.json()) as ModelManifest;
  const url = (p: string) => new URL(p, baseUrl).href;
  const [encoder, init, step] = await Promise.all([
    tf.loadLayersModel(url(manifest.encoder.path)),
    tf.loadGraphModel(url(manifest.decoder.init.path)),
    tf.loadGraphModel(url(manifest.decoder.step.path)),
  ]);
  return createCaptioner(tf, manifest, { encoder, init, step });
}

export function createCaptioner(tf: Tf, manifest: ModelManifest, models: Models): Captioner {
  const { specialIds: ids, decoder } = manifest;
  const neverEmitted = new Set([ids.pad, ids.start, ids.unk]);
  const words = (tokens: number[]) => tokens.map((t) => manifest.vocabulary[t]).join(' ');
  const score = (logProb: number, length: number, alpha: number) =>
    alpha === 0 ? logProb : logProb / Math.pow(Math.max(length, 1), alpha);

  function initState(pixels: Uint8Array): tfTypes.Tensor[] {
    const [h, w] = manifest.image.inputSize;
    return tf.tidy(() => {
      const x = preprocess(tf, tf.tensor4d(pixels, [1, h, w, 3], 'int32'), manifest.image.preprocess);
      const features = (models.encoder.predict(x) as tfTypes.Tensor).reshape([1, ...decoder.featureShape]);
      const out = models.init.execute({ [decoder.init.input]: features }, decoder.init.outputs);
      return Array.isArray(out) ? out : [out];
    });
  }

  /** One step for `rows` hypotheses: log-probs [rows, V] on the host, next state, attention rows. */
  function step(tokens: number[], position: number, state: tfTypes.Tensor[]) {
    const io = decoder.step;
    const outNames = [io.outputs.logProbs, ...io.outputs.state, ...(io.outputs.attention ? [io.outputs.attention] : [])];
    const outs = tf.tidy(() => {
      const feeds: Record<string, tfTypes.Tensor> = {
        [io.inputs.tokens]: tf.tensor1d(tokens, 'int32'),
        [io.inputs.positions]: tf.fill([tokens.length], position, 'int32'),
      };
      io.inputs.state.forEach((n, i) => (feeds[n] = state[i]));
      return models.step.execute(feeds, outNames) as tfTypes.Tensor[];
    });
    const logProbs = outs[0].dataSync() as Float32Array;
    const attention = io.outputs.attention ? (outs[outs.length - 1].arraySync() as number[][]) : undefined;
    tf.dispose([outs[0], ...(io.outputs.attention ? [outs[outs.length - 1]] : [])]);
    return { logProbs, vocabSize: logProbs.length / tokens.length, state: outs.slice(1, 1 + io.outputs.state.length), attention };
  }

  /**
   * The first `count` allowed (token, logProb) of a row, as src/decode/candidates.ts picks them: at
   * the last position only the end token; at the first, anything but it (a caption has a word).
   */
  function allowed(
    out: { logProbs: Float32Array; vocabSize: number },
    row: number,
    count: number,
    at: { position: number; blocked: Set<number> },
  ) {
    const { vocabSize } = out;
    const values = out.logProbs.subarray(row * vocabSize, (row + 1) * vocabSize);
    const maxLength = manifest.decoding.maxLength;
    if (at.position === maxLength) return [{ token: ids.end, logProb: values[ids.end] }];
    const firstWord = at.position === 0;
    const result: { token: number; logProb: number }[] = [];
    for (const token of rankRow(values, Math.min(count + neverEmitted.size + at.blocked.size + 1, vocabSize))) {
      if (result.length === count) break;
      if (neverEmitted.has(token) || values[token] === -Infinity || at.blocked.has(token) || (firstWord && token === ids.end)) continue;
      result.push({ token, logProb: values[token] });
    }
    return result;
  }

  function greedy(pixels: Uint8Array, alpha: number, ngrams: number): CaptionOutput {
    let state = initState(pixels);
    const tokens: number[] = [];
    const attention: number[][] = [];
    let logProb = 0;
    let token = ids.start;
    try {
      for (let t = 0; t <= manifest.decoding.maxLength; t++) {
        const out = step([token], t, state);
        tf.dispose(state);
        state = out.state;
        if (out.attention) attention.push(out.attention[0]);
        const blocked = repeatedNgramTokens(tokens, ngrams);
        const [best] = allowed(out, 0, 1, { position: t, blocked });
        logProb += best.logProb;
        if (best.token === ids.end) {
          const h = {
            tokens,
            caption: words(tokens),
            logProb,
            score: score(logProb, t + 1, alpha),
            length: t + 1,
            ...(attention.length ? { attention } : {}),
          };
          return { ...h, beams: [h] };
        }
        tokens.push(best.token);
        token = best.token;
      }
      throw new Error('greedy search ended without an end token');
    } finally {
      tf.dispose(state);
    }
  }

  interface Beam {
    tokens: number[];
    logProb: number;
    score: number;
    length: number;
    finished: boolean;
    row: number;
    attention: number[][];
  }

  function beam(pixels: Uint8Array, beamSize: number, alpha: number, ngrams: number): CaptionOutput {
    let state = initState(pixels);
    let beams: Beam[] = [{ tokens: [], logProb: 0, score: 0, length: 0, finished: false, row: 0, attention: [] }];
    let inputs = [ids.start];
    try {
      for (let t = 0; t <= manifest.decoding.maxLength; t++) {
        const out = step(inputs, t, state);
        tf.dispose(state);
        const candidates: Beam[] = [];
        for (const b of beams) {
          if (b.finished) {
            candidates.push(b);
            continue;
          }
          const att = out.attention ? [...b.attention, out.attention[b.row]] : b.attention;
          for (const { token, logProb } of allowed(out, b.row, beamSize, { position: t, blocked: repeatedNgramTokens(b.tokens, ngrams) })) {
            const total = b.logProb + logProb;
            const ended = token === ids.end;
            candidates.push({
              tokens: ended ? b.tokens : [...b.tokens, token],
              logProb: total,
              score: score(total, t + 1, alpha),
              length: t + 1,
              finished: ended,
              row: b.row,
              attention: att,
            });
          }
        }
        // stable sort: on equal scores the earlier beam (and within a beam the likelier token) wins
        const best = candidates.sort((a, b) => b.score - a.score).slice(0, beamSize);
        if (best.every((b) => b.finished)) {
          tf.dispose(out.state);
          state = [];
          const ranked = best.map((b) => ({
            tokens: b.tokens,
            caption: words(b.tokens),
            logProb: b.logProb,
            score: b.score,
            length: b.length,
            ...(b.attention.length ? { attention: b.attention } : {}),
          }));
          return { ...ranked[0], beams: ranked };
        }
        const rows = best.map((b) => b.row);
        inputs = best.map((b) => (b.finished ? ids.end : b.tokens[b.tokens.length - 1]));
        beams = best.map((b, i) => ({ ...b, row: i }));
        const gather = tf.tensor1d(rows, 'int32');
        state = out.state.map((s) => tf.gather(s, gather));
        tf.dispose([gather, ...out.state]);
      }
      throw new Error('beam search ended without finished beams');
    } finally {
      tf.dispose(state);
    }
  }

  return {
    manifest,
    caption(pixels, opts = {}) {
      const beamSize = opts.beamSize ?? manifest.decoding.beamSize;
      const alpha = opts.lengthPenalty ?? manifest.decoding.lengthPenalty;
      const ngrams = opts.blockNgrams ?? manifest.decoding.blockNgrams ?? 0;
      return beamSize === 1 ? greedy(pixels, alpha, ngrams) : beam(pixels, beamSize, alpha, ngrams);
    },
    dispose() {
      models.encoder.dispose();
      models.init.dispose();
      models.step.dispose();
    },
  };
}
