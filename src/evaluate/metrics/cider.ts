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
 * CIDEr-D with the document frequencies of one reference set, fixed once: `score` rates one hypothesis
 * against one image's references. Self-critical training (src/train/scst.ts) makes one from the
 * training split's references and scores each sample as it is drawn; ciderD below makes one from the
 * evaluated set, as coco-caption does.
 */
export class CiderDScorer {
  private readonly maxOrder: number;
  private readonly sigma: number;
  private readonly logImageCount: number;
  /** IDF per n-gram, log(#images) - log(max(1, df)). */
  private readonly idf = new Map<string, number>();

  /** references: each image's reference captions (as tokens); read once, not kept. */
  constructor(references: Iterable<readonly (readonly string[])[]>, opts: CiderOptions = {}) {
    this.maxOrder = opts.maxOrder ?? 4;
    this.sigma = opts.sigma ?? 6;
    const documentFrequency = new Map<string, number>();
    let images = 0;
    for (const refs of references) {
      if (refs.length === 0) throw new CapgenError('BAD_INPUT', `CIDEr-D: image ${images} has no reference captions`);
      const seen = new Set<string>();
      for (const ref of refs) for (const counts of ngramCountsUpTo(ref, this.maxOrder)) for (const gram of counts.keys()) seen.add(gram);
      for (const gram of seen) documentFrequency.set(gram, (documentFrequency.get(gram) ?? 0) + 1);
      images++;
    }
    this.logImageCount = Math.log(images);
    // An n-gram absent from every reference gets df 1, as in coco-caption.
    for (const [gram, df] of documentFrequency) this.idf.set(gram, this.logImageCount - Math.log(Math.max(1, df)));
  }

  /** CIDEr-D (x10) of `hypothesis` against `references` (one image's). */
  score(hypothesis: readonly string[], references: readonly (readonly string[])[]): number {
    const { maxOrder } = this;
    const h = this.toTfIdf(ngramCountsUpTo(hypothesis, maxOrder));
    const sums = new Array<number>(maxOrder).fill(0);
    for (const ref of references) {
      const r = this.toTfIdf(ngramCountsUpTo(ref, maxOrder));
      const delta = h.length - r.length;
      const penalty = Math.exp(-(delta * delta) / (2 * this.sigma * this.sigma));
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
    return (meanOverOrders / references.length) * 10;
  }

  private toTfIdf(orders: OrderCounts): TfIdf {
    const weights: Map<string, number>[] = [];
    const norms: number[] = [];
    orders.forEach((counts) => {
      const vec = new Map<string, number>();
      let squares = 0;
      for (const [gram, tf] of counts) {
        const w = tf * (this.idf.get(gram) ?? this.logImageCount);
        vec.set(gram, w);
        squares += w * w;
      }
      weights.push(vec);
      norms.push(Math.sqrt(squares));
    });
    let length = 0;
    if (this.maxOrder >= 2) for (const tf of orders[1]!.values()) length += tf;
    return { weights, norms, length };
  }
}

/**
 * CIDEr-D of each hypothesis against its references. references: [image][reference][token]; hypotheses: [image][token].
 * Document frequency counts, for each n-gram, the images whose references contain it; log(#images) is the IDF base,
 * so the score of one image alone is 0 (as in coco-caption).
 */
export function ciderD(references: readonly string[][][], hypotheses: readonly string[][], opts: CiderOptions = {}): MetricResult {
  if (references.length !== hypotheses.length) {
    throw new CapgenError('BAD_INPUT', `CIDEr-D: ${hypotheses.length} hypotheses but ${references.length} reference sets`, {
      hint: 'give one list of references per hypothesis',
    });
  }
  if (hypotheses.length === 0) return { score: 0, perImage: [] };
  const scorer = new CiderDScorer(references, opts);
  const perImage = hypotheses.map((hyp, i) => scorer.score(hyp, references[i]!));
  return { score: perImage.reduce((a, b) => a + b, 0) / perImage.length, perImage };
}
