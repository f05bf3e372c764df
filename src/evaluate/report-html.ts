// report.html: one self-contained page (inline CSS, JS and images) with the metrics, how they were
// obtained, the training curves, and every image with its generated and reference captions,
// sortable by score so the worst captions are easy to find, and for attending models each word's
// attention map drawn over the thumbnail. Pure: data in, HTML text out.
import path from 'node:path';
import { METRIC_LABELS, type EvalRecord, type MetricValues } from './record.js';

export interface ReportRow {
  image: string;
  caption: string;
  references: string[];
  bleu4: number;
  ciderD: number;
  /** data: URI of a thumbnail; a placeholder is shown without one. */
  thumbnail?: string;
  /** Where an attending model looked for each word of `caption`. */
  attention?: WordMaps;
}

export interface WordMaps {
  /** [H, W] regions. */
  grid: [number, number];
  words: string[];
  /** One row per word: weights over the H*W regions, row-major. */
  weights: number[][];
  /** The encoder's input [height, width] when it centre-cropped the image (the grid covers that crop only). */
  crop?: [number, number];
}

export interface ReportInput {
  record: EvalRecord;
  rows: ReportRow[];
  /** data: URI of the training curves (history.png), when the run has them. */
  trainingCurves?: string;
  /** The folder report.html is written to: paths are shown relative to it. */
  reportDir: string;
}

/**
 * The value with every absolute path in it made relative to `dir`: a report is a file people share,
 * and /home/someone/... says where it was made, not where its files are from the report.
 */
export function withRelativePaths<T>(value: T, dir: string): T {
  if (typeof value === 'string') return (path.isAbsolute(value) ? path.relative(dir, value) || '.' : value) as T;
  if (Array.isArray(value)) return value.map((v) => withRelativePaths(v, dir)) as T;
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withRelativePaths(v, dir)])) as T;
  return value;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; }
table.metrics td, table.metrics th { padding: 3px 12px; text-align: left; } table.metrics td.num { text-align: right; font-variant-numeric: tabular-nums; }
details { margin: 12px 0; } summary { cursor: pointer; font-weight: 600; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; font-size: 12px; }
.controls { margin: 12px 0; }
.card { display: flex; gap: 12px; padding: 8px 0; border-top: 1px solid #ddd; }
.thumb { width: 160px; min-width: 160px; height: 120px; display: flex; align-items: center; justify-content: center; }
.thumb img { max-width: 160px; max-height: 120px; }
.placeholder { width: 150px; height: 110px; background: #eee; color: #888; display: flex; align-items: center; justify-content: center; font-size: 12px; }
.name { color: #666; font-size: 12px; } .generated { font-weight: 600; margin: 2px 0; }
.warning { background: #fff3cd; border: 1px solid #e0c060; padding: 6px 10px; } .protocol { color: #555; font-size: 12px; }
.scores { font-size: 12px; color: #444; } ul.refs { margin: 4px 0; padding-left: 18px; color: #555; }
.maps { display: flex; flex-wrap: wrap; gap: 6px; margin: 4px 0; }
.maps figure { margin: 0; font-size: 12px; text-align: center; } .maps canvas { display: block; border-radius: 3px; }
`;

// Reorders the cards by a data attribute; ties keep the image-name order.
const SCRIPT = `
const list = document.getElementById('images');
const cards = Array.from(list.children);
function sortCards(spec) {
  const [key, dir] = spec.split(':');
  const value = (c) => key === 'image' ? c.dataset.image : Number(c.dataset[key]);
  cards.sort((a, b) => {
    const x = value(a), y = value(b);
    const order = key === 'image' ? x.localeCompare(y) : x - y;
    return (dir === 'desc' ? -order : order) || a.dataset.image.localeCompare(b.dataset.image);
  });
  for (const c of cards) list.appendChild(c);
}
const select = document.getElementById('sort');
select.addEventListener('change', () => sortCards(select.value));
sortCards(select.value);

// Attention maps: each word's bytes (0-255, scaled by the word's peak) painted as a heatmap over the
// thumbnail, upsampled by the canvas' smoothing. Drawn when a card comes near the screen.
const MAP_WIDTH = 96;
function heat(v) {
  const c = (x) => Math.round(255 * Math.min(1, Math.max(0, x)));
  return [c(1.5 - Math.abs(4 * v - 3)), c(1.5 - Math.abs(4 * v - 2)), c(1.5 - Math.abs(4 * v - 1))];
}
function drawMaps(box) {
  const [h, w] = box.dataset.grid.split(',').map(Number);
  const words = JSON.parse(box.dataset.words);
  const bytes = Uint8Array.from(atob(box.dataset.maps), (ch) => ch.charCodeAt(0));
  const img = box.closest('.card').querySelector('.thumb img');
  const shown = img && img.naturalWidth > 0;
  // the part of the image the grid covers: all of it, or (crop encoders) its centre crop
  let [sx, sy, sw, sh] = shown ? [0, 0, img.naturalWidth, img.naturalHeight] : [0, 0, 1, 1];
  if (shown && box.dataset.crop) {
    const [ch, cw] = box.dataset.crop.split(',').map(Number);
    const w0 = Math.min(sw, (sh * cw) / ch), h0 = (w0 * ch) / cw;
    [sx, sy, sw, sh] = [(sw - w0) / 2, (sh - h0) / 2, w0, h0];
  }
  const height = shown ? Math.round((MAP_WIDTH * sh) / sw) : MAP_WIDTH;
  words.forEach((word, k) => {
    const small = document.createElement('canvas');
    small.width = w;
    small.height = h;
    const sctx = small.getContext('2d');
    const pixels = sctx.createImageData(w, h);
    for (let r = 0; r < h * w; r++) {
      const v = bytes[k * h * w + r] / 255;
      pixels.data.set([...heat(v), Math.round(255 * (0.2 + 0.5 * v))], r * 4);
    }
    sctx.putImageData(pixels, 0, 0);
    const canvas = document.createElement('canvas');
    canvas.width = MAP_WIDTH;
    canvas.height = height;
    const ctx = canvas.getContext('2d');
    if (shown) ctx.drawImage(img, sx, sy, sw, sh, 0, 0, MAP_WIDTH, height);
    else { ctx.fillStyle = '#ddd'; ctx.fillRect(0, 0, MAP_WIDTH, height); }
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(small, 0, 0, MAP_WIDTH, height);
    const figure = document.createElement('figure');
    const label = document.createElement('figcaption');
    label.textContent = word;
    figure.append(canvas, label);
    box.appendChild(figure);
  });
}
function whenReady(box) {
  const img = box.closest('.card').querySelector('.thumb img');
  if (img && !img.complete) {
    // drawn once the thumbnail is in (or failed: then over a grey panel)
    let drawn = false;
    const draw = () => { if (!drawn) { drawn = true; drawMaps(box); } };
    img.addEventListener('load', draw, { once: true });
    img.addEventListener('error', draw, { once: true });
  } else drawMaps(box);
}
const mapBoxes = document.querySelectorAll('.maps[data-maps]');
if ('IntersectionObserver' in window) {
  const observer = new IntersectionObserver((entries) => entries.forEach((e) => {
    if (e.isIntersecting) { observer.unobserve(e.target); whenReady(e.target); }
  }), { rootMargin: '600px' });
  mapBoxes.forEach((b) => observer.observe(b));
} else mapBoxes.forEach(whenReady);
`;

function metricsTable(metrics: MetricValues, coco: EvalRecord['cocoBleu']): string {
  const rows = (Object.keys(METRIC_LABELS) as (keyof MetricValues)[]).map(
    (k) => `<tr><th>${escapeHtml(METRIC_LABELS[k])}</th><td class="num" data-metric="${k}">${metrics[k].toFixed(4)}</td></tr>`,
  );
  for (const n of [1, 2, 3, 4] as const)
    rows.push(`<tr><th>BLEU-${n} (coco-caption)</th><td class="num" data-metric="coco-bleu${n}">${coco[`bleu${n}`].toFixed(4)}</td></tr>`);
  return `<table class="metrics">${rows.join('')}</table>`;
}

/** The statistics that reveal a broken model, with its warnings first. */
function diagnosticsSection(r: EvalRecord): string {
  const d = r.diagnostics;
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const warnings = d.warnings.map((w) => `<p class="warning"><b>Warning:</b> ${escapeHtml(w)}</p>`).join('');
  const rows: [string, string][] = [
    ['Distinct captions', pct(d.distinctCaptionShare)],
    [
      'Most common caption',
      `${escapeHtml(d.mostCommonCaption.caption) || '<i>(empty)</i>'} (${pct(d.mostCommonCaption.imageShare)} of the images)`,
    ],
    ['Distinct words', `${d.distinctWordsGenerated} (references: ${d.distinctWordsInReferences})`],
    ['Mean length, words', `${d.meanLengthGenerated.toFixed(1)} (references: ${d.meanLengthReferences.toFixed(1)})`],
    ['At the length limit', d.maxLengthShare === null ? 'unknown (predictions file)' : `${pct(d.maxLengthShare)} (${d.maxLength} words)`],
    ['Repeated bigram / trigram in a caption', `${pct(d.repeatedBigramShare)} / ${pct(d.repeatedTrigramShare)}`],
  ];
  return `<h2>Generated captions</h2>${warnings}<table class="metrics" id="diagnostics">${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table>`;
}

/**
 * Attention rows -> base64 of one byte per region: each row scaled so its peak is 255 (the page
 * shows where a word looked, not absolute weights), all rows one after the other. ~70 characters
 * a word on a 7x7 grid, so the maps of a 1000-image report add well under a megabyte.
 */
export function encodeMaps(weights: number[][]): string {
  const regions = weights[0]?.length ?? 0;
  const bytes = new Uint8Array(weights.length * regions);
  weights.forEach((row, k) => {
    const peak = Math.max(...row);
    row.forEach((x, r) => (bytes[k * regions + r] = peak > 0 ? Math.round((255 * Math.max(0, x)) / peak) : 0));
  });
  return Buffer.from(bytes).toString('base64');
}

function mapsBox(maps: WordMaps): string {
  if (maps.words.length === 0) return '';
  const words = escapeHtml(JSON.stringify(maps.words));
  const crop = maps.crop ? ` data-crop="${maps.crop.join(',')}"` : '';
  return `<div class="maps" data-grid="${maps.grid.join(',')}"${crop} data-words="${words}" data-maps="${encodeMaps(maps.weights)}"></div>`;
}

function card(row: ReportRow): string {
  const thumb = row.thumbnail
    ? `<img src="${row.thumbnail}" alt="${escapeHtml(row.image)}">`
    : `<div class="placeholder">image not found</div>`;
  const refs = row.references.map((r) => `<li>${escapeHtml(r)}</li>`).join('');
  return (
    `<div class="card" data-image="${escapeHtml(row.image)}" data-bleu4="${row.bleu4}" data-cider="${row.ciderD}">` +
    `<div class="thumb">${thumb}</div><div><div class="name">${escapeHtml(row.image)}</div>` +
    `<div class="generated">${escapeHtml(row.caption) || '<i>(empty caption)</i>'}</div>` +
    (row.attention ? mapsBox(row.attention) : '') +
    `<div class="scores">BLEU-4 ${row.bleu4.toFixed(4)} · CIDEr-D ${row.ciderD.toFixed(4)}</div><ul class="refs">${refs}</ul></div></div>`
  );
}

/** The record's source with its checkpoint or predictions path relative to the report's folder. */
function sourceFromReport(r: EvalRecord, reportDir: string): EvalRecord['source'] {
  const absolute =
    r.source.kind === 'model'
      ? { ...r.source, checkpoint: path.resolve(r.source.checkpoint) }
      : { ...r.source, file: path.resolve(r.source.file) };
  return withRelativePaths(absolute, reportDir);
}

function describeSource(source: EvalRecord['source']): string {
  if (source.kind === 'predictions') return `predictions from <code>${escapeHtml(source.file)}</code>`;
  const d = source.decoding;
  const ranking =
    d.lengthPenalty === 0 ? 'ranked by total log-probability' : `ranked by log-probability / length<sup>${d.lengthPenalty}</sup>`;
  const how = d.beamSize === 1 ? 'greedy search' : `beam search (beam size ${d.beamSize}, ${ranking})`;
  const blocked = d.blockNgrams ? `, no ${d.blockNgrams} words in a row twice` : '';
  return `checkpoint <code>${escapeHtml(source.checkpoint)}</code> (${escapeHtml(source.architecture)}, epoch ${source.epoch}), ${how}${blocked}, at most ${d.maxLength} words`;
}

export function renderReport(input: ReportInput): string {
  const { record: r, rows } = input;
  const settings = withRelativePaths(
    {
      split: r.split,
      images: r.images,
      references: r.references,
      bleu: r.bleu,
      cocoBleu: r.cocoBleu,
      source: sourceFromReport(r, input.reportDir),
      cleaning: r.cleaning,
      skipped: r.skipped.length,
      elapsedSeconds: r.elapsedSeconds,
      backend: r.backend,
      createdAt: r.createdAt,
    },
    input.reportDir,
  );
  const maps = rows.find((row) => row.attention)?.attention;
  const mapsNote = maps
    ? `<p>Under each caption, where the model looked for each word: its attention over the ${maps.grid[0]}x${maps.grid[1]} image regions (red = most, blue = least, per word).</p>`
    : '';
  const curves = input.trainingCurves
    ? `<h2>Training curves</h2><img src="${input.trainingCurves}" alt="training curves" style="max-width:100%">`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>capgen eval: ${escapeHtml(r.split)}</title><style>${STYLE}</style></head>
<body>
<h1>capgen eval: ${escapeHtml(r.split)} split, ${r.images} images</h1>
<p>Captions from ${describeSource(sourceFromReport(r, input.reportDir))}. References cleaned with the training rules; BLEU as NLTK corpus_bleu (smoothing ${escapeHtml(r.bleu.smoothing)}) and as coco-caption.</p>
<p class="protocol">${escapeHtml(r.protocol)}</p>
<h2>Metrics</h2>
${metricsTable(r.metrics, r.cocoBleu)}
${diagnosticsSection(r)}
<details><summary>How these numbers were obtained (the settings recorded in metrics.json)</summary>
<pre>${escapeHtml(JSON.stringify(settings, null, 2))}</pre></details>
${curves}
<h2>Images</h2>
${mapsNote}
<div class="controls"><label>Sort by <select id="sort">
<option value="cider:asc">CIDEr-D, worst first</option><option value="cider:desc">CIDEr-D, best first</option>
<option value="bleu4:asc">BLEU-4 (sentence), worst first</option><option value="bleu4:desc">BLEU-4 (sentence), best first</option>
<option value="image:asc">image name</option></select></label></div>
<div id="images">
${rows.map(card).join('\n')}
</div>
<script>${SCRIPT}</script>
</body></html>
`;
}
