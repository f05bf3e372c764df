// The demo's closing text: where everything was written, the test metrics, and a small table of
// held-out scenes with generated and reference captions (pure: a DemoResult in, text out).
import path from 'node:path';
import { formatSeconds } from '../log.js';
import type { DemoResult } from './run.js';

// Wide enough for the longest synthetic caption (about 95 characters) without wrapping on most terminals.
const CAPTION_WIDTH = 60;

function fit(text: string, width: number): string {
  return text.length <= width ? text.padEnd(width) : `${text.slice(0, width - 1)}…`;
}

/** A path as one shell word (quoted only when it needs to be). */
function shellWord(p: string): string {
  return /^[\w./@%+=:,-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`;
}

/** What to run next on the demo's run folder: every command reads it through --run. */
export function nextCommands(r: Pick<DemoResult, 'runDir' | 'datasetDir' | 'samples'>): string[] {
  const run = shellWord(r.runDir);
  const image = shellWord(path.join(r.datasetDir, 'Images', r.samples[0]?.image ?? '*.png'));
  return [
    `npx capgen caption ${image} --run ${run}`,
    `npx capgen eval --run ${run} --split dev --beam-size 3`,
    `npx capgen serve --run ${run}`,
    `npx capgen export --run ${run} --format web --out site/`,
  ];
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
    '',
    `next (the report: ${r.files.report ?? path.join(r.runDir, 'eval', 'report.html')}):`,
    ...nextCommands(r).map((c) => `  ${c}`),
  ].join('\n');
}
