// Builds the METEOR / CIDEr-D / ROUGE-L input fixture from real Flickr8k captions, cleaned exactly as capgen
// cleans them (dist/text/clean.js, so run `npx tsc -p tsconfig.build.json` first). Run once; the output is committed:
//   node test/reference/make_caption_sets.mjs ../shared/data/flickr8k/Flickr8k.token.txt 40 test/fixtures/metrics/caption-sets.json
// Then test/reference/make_metric_fixtures.py computes the golden scores from that file.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseFlickr8kTokens } from '../../dist/prepare/readers/flickr8k.js';
import { cleanCaption } from '../../dist/text/clean.js';

const [tokenFile, countArg, outFile] = process.argv.slice(2);
if (!tokenFile || !countArg || !outFile) throw new Error('usage: make_caption_sets.mjs TOKEN_FILE IMAGE_COUNT OUT.json');
const imageCount = Number(countArg);

const byImage = new Map();
for (const c of parseFlickr8kTokens(readFileSync(tokenFile, 'utf8'), tokenFile).captions) {
  if (!byImage.has(c.image)) byImage.set(c.image, []);
  byImage.get(c.image).push(cleanCaption(c.raw));
}
const images = [...byImage.keys()].filter((k) => byImage.get(k).length === 5);
const stride = Math.max(1, Math.floor(images.length / imageCount));
const picked = Array.from({ length: imageCount }, (_, i) => images[(i * stride) % images.length]);

// Word swaps that exercise METEOR's stem and WordNet-synonym stages.
const SWAPS = {
  dog: 'hound',
  dogs: 'hounds',
  man: 'person',
  men: 'people',
  boy: 'child',
  girl: 'female',
  running: 'runs',
  runs: 'running',
  plays: 'playing',
  playing: 'plays',
  jumping: 'jumps',
  jumps: 'leaping',
  grass: 'lawn',
  water: 'water',
  woman: 'lady',
  child: 'kid',
  people: 'folks',
  street: 'road',
  small: 'little',
  little: 'small',
  large: 'big',
  big: 'large',
  walking: 'walks',
  sits: 'sitting',
  sitting: 'seated',
  red: 'crimson',
  black: 'dark',
  white: 'snowy',
  ball: 'balls',
};

const sets = picked.map((image, k) => {
  const refs = byImage.get(image);
  const other = byImage.get(picked[(k + 7) % picked.length])[0];
  const without = (i) => refs.filter((_, j) => j !== i);
  switch (k % 10) {
    case 0:
      return { image, kind: 'held-out reference', hypothesis: refs[0], references: without(0) };
    case 1:
      return { image, kind: 'last word dropped', hypothesis: refs[1].slice(0, -1), references: without(1) };
    case 2:
      return { image, kind: 'reversed words', hypothesis: [...refs[2]].reverse(), references: without(2) };
    case 3:
      return { image, kind: 'synonym swaps', hypothesis: refs[0].map((w) => SWAPS[w] ?? w), references: without(0) };
    case 4:
      return { image, kind: 'two words, one reference', hypothesis: refs[3].slice(0, 2), references: [refs[0]] };
    case 5:
      return {
        image,
        kind: 'repeated words',
        hypothesis: [...refs[4].slice(0, 3), ...refs[4].slice(0, 3), ...refs[4].slice(0, 3)],
        references: refs,
      };
    case 6:
      return { image, kind: k === 6 ? 'empty hypothesis' : 'one word', hypothesis: k === 6 ? [] : refs[1].slice(1, 2), references: refs };
    case 7:
      return { image, kind: 'caption of another image', hypothesis: other, references: refs };
    case 8:
      return { image, kind: 'identical to a reference', hypothesis: refs[0], references: refs };
    default:
      return { image, kind: 'swaps, two references', hypothesis: refs[2].map((w) => SWAPS[w] ?? w).slice(1), references: refs.slice(0, 2) };
  }
});
// Captions are stored as space-joined tokens (cleaned tokens never contain spaces; "" is the empty caption).
const stored = sets.map((s) => ({ ...s, hypothesis: s.hypothesis.join(' '), references: s.references.map((r) => r.join(' ')) }));
const header = { source: 'Flickr8k.token.txt cleaned with capgen cleanCaption (DEFAULT_CLEANING)', format: 'space-joined tokens' };
writeFileSync(outFile, JSON.stringify({ ...header, sets: stored }, null, 1) + '\n');
console.error(`${sets.length} caption sets -> ${outFile}`);
