// The demo's closing text: where everything was written, the test metrics, and a small table of
// held-out scenes with generated and reference captions (pure: a DemoResult in, text out).
import { formatSeconds } from '../log.js';
import type { DemoResult } from './run.js';

// Wide enough for the longest synthetic caption (about 95 characters) without wrapping on most terminals.
const CAPTION_WIDTH = 60;

function fit(text: string, width: number): string {
  return text.length <= width ? text.padEnd(width) : `${text.slice(0, width - 1)}…`;
}

export function formatDemoReport(r: DemoResult): string {
  const nameWidth = Math.max(5, ...r.samples.map((s) => s.image.length));
  const rows = r.samples.flatMap((s) => {
    const [first = '', ...others] = s.references;
    return [
      `${fit(s.image, nameWidth)}  ${fit(s.generated, CAPTION_WIDTH)}  ${first}`,
      ...others.slice(0, 1).map((ref) => `${' '.repeat(nameWidth)}  ${' '.repeat(CAPTION_WIDTH)}  ${ref}`),
    ];
  });
  const exact = r.samples.filter((s) => s.references.includes(s.generated)).length;
  const m = r.metrics;
  const metric = (key: string) => (typeof m[key] === 'number' ? (m[key] as number).toFixed(3) : 'n/a');
  const stages = Object.entries(r.stageSeconds)
    .map(([name, s]) => `${name} ${formatSeconds(s)}`)
    .join(', ');
  return [
    '',
    `capgen demo: done in ${formatSeconds(r.elapsedSeconds)} (${stages})`,
    '',
    'written:',
    ...Object.entries(r.files).map(([what, file]) => `  ${what.padEnd(16)} ${file}`),
    '',
    `test split: BLEU-1 ${metric('bleu1')}  BLEU-4 ${metric('bleu4')}  CIDEr-D ${metric('ciderD')}  ROUGE-L ${metric('rougeL')}  METEOR ${metric('meteor')}`,
    '',
    `${fit('image', nameWidth)}  ${fit('generated caption', CAPTION_WIDTH)}  references (2 of 5)`,
    `${'-'.repeat(nameWidth)}  ${'-'.repeat(CAPTION_WIDTH)}  ${'-'.repeat(CAPTION_WIDTH)}`,
    ...rows,
    '',
    `${exact} of ${r.samples.length} generated captions are word for word one of their five references.`,
  ].join('\n');
}
