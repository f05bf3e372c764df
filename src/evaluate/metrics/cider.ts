// CIDEr-D as the coco-caption toolkit computes it (pycocoevalcap/cider): TF-IDF n-gram vectors with document
// frequencies from the references of the evaluated set, clipped cosine similarity, a Gaussian length penalty, x10.
// coco-caption prints this number as "CIDEr"; it is the CIDEr-D variant of Vedantam et al.
import { CapgenError } from '../../errors.js';
import { ngramCountsUpTo } from './ngrams.js';

export interface CiderOptions {
  /** Highest n-gram order: coco-caption uses 1..4. */
  maxOrder?: number;
  /** Width of the length penalty exp(-delta^2 / (2 sigma^2)): coco-caption's 6. */
  sigma?: number;
}

export interface MetricResult {
  /** Mean of perImage. */
  score: number;
  perImage: number[];
}

/** Term counts per n-gram order (index 0 = unigrams). */
type OrderCounts = Map<string, number>[];

interface TfIdf {
  weights: Map<string, number>[];
  norms: number[];
  /** coco-caption's "length" is the number of BIGRAMS (len - 1), a quirk kept for identical scores. */
  length: number;
}

/**
 * CIDEr-D of each hypothesis against its references. references: [image][reference][token]; hypotheses: [image][token].
 * Document frequency counts, for each n-gram, the images whose references contain it; log(#images) is the IDF base,
 * so the score of one image alone is 0 (as in coco-caption).
 */
export function ciderD(references: readonly string[][][], hypotheses: readonly string[][], opts: CiderOptions = {}): MetricResult {
  const maxOrder = opts.maxOrder ?? 4;
  const sigma = opts.sigma ?? 6;
  if (references.length !== hypotheses.length) {
    throw new CapgenError('BAD_INPUT', `CIDEr-D: ${hypotheses.length} hypotheses but ${references.length} reference sets`, {
      hint: 'give one list of references per hypothesis',
    });
  }
  if (hypotheses.length === 0) return { score: 0, perImage: [] };

  const refCounts = references.map((refs, i) => {
    if (refs.length === 0) throw new CapgenError('BAD_INPUT', `CIDEr-D: image ${i} has no reference captions`);
    return refs.map((ref) => ngramCountsUpTo(ref, maxOrder));
  });
  const documentFrequency = new Map<string, number>();
  for (const refs of refCounts) {
    const seen = new Set<string>();
    for (const orders of refs) for (const counts of orders) for (const gram of counts.keys()) seen.add(gram);
    for (const gram of seen) documentFrequency.set(gram, (documentFrequency.get(gram) ?? 0) + 1);
  }
  const logImageCount = Math.log(references.length);
  // IDF per n-gram, log(#images) - log(max(1, df)); an n-gram absent from every reference gets df 1, as in coco-caption.
  const idf = new Map<string, number>();
  for (const [gram, df] of documentFrequency) idf.set(gram, logImageCount - Math.log(Math.max(1, df)));

  const toTfIdf = (orders: OrderCounts): TfIdf => {
    const weights: Map<string, number>[] = [];
    const norms: number[] = [];
    orders.forEach((counts) => {
      const vec = new Map<string, number>();
      let squares = 0;
      for (const [gram, tf] of counts) {
        const w = tf * (idf.get(gram) ?? logImageCount);
        vec.set(gram, w);
        squares += w * w;
      }
      weights.push(vec);
      norms.push(Math.sqrt(squares));
    });
    let length = 0;
    if (maxOrder >= 2) for (const tf of orders[1]!.values()) length += tf;
    return { weights, norms, length };
  };

  const lengthPenalty = (delta: number): number => Math.exp(-(delta * delta) / (2 * sigma * sigma));

  const perImage = hypotheses.map((hyp, i) => {
    const h = toTfIdf(ngramCountsUpTo(hyp, maxOrder));
    const sums = new Array<number>(maxOrder).fill(0);
    for (const refOrders of refCounts[i]!) {
      const r = toTfIdf(refOrders);
      const penalty = lengthPenalty(h.length - r.length);
      for (let n = 0; n < maxOrder; n++) {
        let dot = 0;
        const refVec = r.weights[n]!;
        for (const [gram, wh] of h.weights[n]!) {
          const wr = refVec.get(gram) ?? 0;
          dot += Math.min(wh, wr) * wr; // clipping: a repeated n-gram earns no more than the reference has
        }
        if (h.norms[n] !== 0 && r.norms[n] !== 0) dot /= h.norms[n]! * r.norms[n]!;
        sums[n]! += dot * penalty;
      }
    }
    const meanOverOrders = sums.reduce((a, b) => a + b, 0) / maxOrder;
    return (meanOverOrders / refCounts[i]!.length) * 10;
  });
  return { score: perImage.reduce((a, b) => a + b, 0) / perImage.length, perImage };
}
