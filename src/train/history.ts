// Training history: history.json (one entry per epoch), history.csv and history.png, loss and accuracy curves
// drawn as SVG and rasterised by sharp; both rewritten atomically after every epoch.
import path from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import { historyCsv } from './keras-logs.js';

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  valLoss: number | null;
  valAccuracy: number | null;
  learningRate: number;
  seconds: number;
  samplesPerSecond: number;
  /** Self-critical training: the mean reward (CIDEr-D) of the epoch's samples. */
  meanReward?: number;
  /** Self-critical training: dev CIDEr-D of greedy decoding after the epoch (what picks best/). */
  devCiderD?: number;
}

const COLORS = { train: '#1f77b4', val: '#d62728' };

interface Series {
  label: string;
  color: string;
  values: (number | null)[];
}

/** One panel: x = epoch (1-based), y auto-scaled. Pure: records in, SVG fragment out. */
function panel(title: string, series: Series[], box: { x: number; y: number; w: number; h: number }): string {
  const all = series.flatMap((s) => s.values).filter((v): v is number => v !== null && Number.isFinite(v));
  const n = Math.max(...series.map((s) => s.values.length), 1);
  let lo = all.length ? Math.min(...all) : 0;
  let hi = all.length ? Math.max(...all) : 1;
  if (hi - lo < 1e-9) [lo, hi] = [lo - 0.5, hi + 0.5];
  const pad = (hi - lo) * 0.05;
  lo -= pad;
  hi += pad;
  const px = (i: number) => box.x + (n === 1 ? box.w / 2 : (i / (n - 1)) * box.w);
  const py = (v: number) => box.y + box.h - ((v - lo) / (hi - lo)) * box.h;
  const parts = [
    `<rect x="${box.x}" y="${box.y}" width="${box.w}" height="${box.h}" fill="none" stroke="#888"/>`,
    `<text x="${box.x + box.w / 2}" y="${box.y - 10}" text-anchor="middle" font-size="16">${title}</text>`,
  ];
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    parts.push(`<text x="${box.x - 6}" y="${py(v) + 4}" text-anchor="end" font-size="11">${v.toFixed(3)}</text>`);
  }
  const step = Math.max(1, Math.ceil(n / 10));
  for (let i = 0; i < n; i += step)
    parts.push(`<text x="${px(i)}" y="${box.y + box.h + 16}" text-anchor="middle" font-size="11">${i + 1}</text>`);
  parts.push(`<text x="${box.x + box.w / 2}" y="${box.y + box.h + 34}" text-anchor="middle" font-size="12">epoch</text>`);
  series.forEach((s, k) => {
    const pts = s.values
      .map((v, i) => (v === null || !Number.isFinite(v) ? undefined : `${px(i).toFixed(1)},${py(v).toFixed(1)}`))
      .filter(Boolean);
    if (pts.length > 1) parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.join(' ')}"/>`);
    for (const p of pts) {
      const [cx, cy] = (p as string).split(',');
      parts.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${s.color}"/>`);
    }
    parts.push(`<text x="${box.x + 10}" y="${box.y + 18 + 16 * k}" font-size="12" fill="${s.color}">${s.label}</text>`);
  });
  return parts.join('\n');
}

export function historySvg(records: EpochRecord[]): string {
  const width = 1000;
  const height = 420;
  const loss = panel(
    'loss (cross-entropy per word)',
    [
      { label: 'train', color: COLORS.train, values: records.map((r) => r.trainLoss) },
      { label: 'validation', color: COLORS.val, values: records.map((r) => r.valLoss) },
    ],
    { x: 70, y: 40, w: 380, h: 320 },
  );
  const acc = panel(
    'next-word accuracy',
    [
      { label: 'train', color: COLORS.train, values: records.map((r) => r.trainAccuracy) },
      { label: 'validation', color: COLORS.val, values: records.map((r) => r.valAccuracy) },
    ],
    { x: 580, y: 40, w: 380, h: 320 },
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
${loss}
${acc}
</svg>`;
}

/** Writes history.json, history.csv (Keras CSVLogger's columns) and history.png into `trainDir`. */
export async function writeHistory(trainDir: string, records: EpochRecord[]): Promise<{ json: string; csv: string; png: string }> {
  const json = path.join(trainDir, 'history.json');
  const csv = path.join(trainDir, 'history.csv');
  const png = path.join(trainDir, 'history.png');
  await writeJsonAtomic(json, { epochs: records });
  await writeFileAtomic(csv, historyCsv(records));
  await writeFileAtomic(
    png,
    await sharp(Buffer.from(historySvg(records)))
      .png()
      .toBuffer(),
  );
  return { json, csv, png };
}
