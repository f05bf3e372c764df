// One PNG per captioned image for `capgen caption --attention-maps DIR`: the caption on top, then a
// grid of panels: the image as the encoder framed it, and for every generated word the same image
// with that word's attention over the H x W regions upsampled and blended in as a heatmap.
import sharp, { type OverlayOptions } from 'sharp';
import type { EncoderIdentity } from '../run/formats.js';

/** Panel width: the usual encoder input (224), so a 7x7 grid cell is 32 px. */
export const PANEL_WIDTH = 224;
/** At most this many panels a row: four 224-px panels fit a laptop screen. */
export const MAX_COLUMNS = 4;
/** Space around panels, px. */
export const GAP = 8;
/** Word label strip under each panel, px: one line of 16-px text. */
export const LABEL_HEIGHT = 26;
/** Caption line over the grid, px. */
export const HEADER_HEIGHT = 34;
/** Panels stay between 1:3 and 3:1 (a panorama would otherwise make word labels unreadable). */
const MAX_ASPECT = 3;
/** Heatmap opacity where attention is lowest / highest: the image stays visible under the colours. */
const ALPHA_RANGE: [number, number] = [0.2, 0.7];

export interface AttentionFigure {
  /** The image file (or its bytes) that was captioned. */
  image: string | Buffer;
  caption: string;
  words: string[];
  /** One row per word: weights over the grid's regions, row-major. */
  weights: number[][];
  /** [H, W] of the regions. */
  grid: [number, number];
  /** How the encoder framed the image: its resize mode and input [height, width]. */
  encoder: Pick<EncoderIdentity, 'resize' | 'inputSize'>;
}

export interface FigureLayout {
  columns: number;
  rows: number;
  panelWidth: number;
  panelHeight: number;
  width: number;
  height: number;
}

/** Where everything goes for `words` words and an image (as framed) of the given aspect (height / width). */
export function figureLayout(words: number, aspect: number): FigureLayout {
  const panels = words + 1;
  const columns = Math.min(MAX_COLUMNS, panels);
  const rows = Math.ceil(panels / columns);
  const panelHeight = Math.round(PANEL_WIDTH * Math.min(MAX_ASPECT, Math.max(1 / MAX_ASPECT, aspect)));
  return {
    columns,
    rows,
    panelWidth: PANEL_WIDTH,
    panelHeight,
    width: columns * PANEL_WIDTH + (columns + 1) * GAP,
    height: HEADER_HEIGHT + rows * (panelHeight + LABEL_HEIGHT) + (rows + 1) * GAP,
  };
}

/** A blue-cyan-yellow-red ramp ("jet"), v in [0, 1] -> RGB 0..255. */
export function heatColour(v: number): [number, number, number] {
  const c = (x: number) => Math.round(255 * Math.min(1, Math.max(0, x)));
  return [c(1.5 - Math.abs(4 * v - 3)), c(1.5 - Math.abs(4 * v - 2)), c(1.5 - Math.abs(4 * v - 1))];
}

/** One word's weights [H*W] -> an RGBA H x W heatmap, scaled so the row's peak is the hottest colour. */
export function heatmapPixels(weights: number[], grid: [number, number]): Buffer {
  const [h, w] = grid;
  if (weights.length !== h * w) throw new Error(`an attention row has ${weights.length} weights, the grid ${h}x${w} has ${h * w} regions`);
  const peak = Math.max(...weights) || 1;
  const out = Buffer.alloc(h * w * 4);
  weights.forEach((x, i) => {
    const v = Math.max(0, x) / peak;
    out.set([...heatColour(v), Math.round(255 * (ALPHA_RANGE[0] + (ALPHA_RANGE[1] - ALPHA_RANGE[0]) * v))], i * 4);
  });
  return out;
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** A line of text as SVG (sharp renders it with librsvg and the system's fonts). */
function textSvg(text: string, width: number, height: number, opts: { size: number; bold?: boolean; align: 'start' | 'middle' }): Buffer {
  // ~0.6 em per character in a sans font: cut long captions instead of letting them run off
  const fits = Math.max(4, Math.floor(width / (opts.size * 0.6)));
  const shown = text.length > fits ? `${text.slice(0, fits - 1)}…` : text;
  const x = opts.align === 'middle' ? width / 2 : 2;
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
      `<text x="${x}" y="${Math.round(height / 2 + opts.size * 0.35)}" text-anchor="${opts.align}" font-family="DejaVu Sans, Arial, Helvetica, sans-serif" ` +
      `font-size="${opts.size}" font-weight="${opts.bold ? 'bold' : 'normal'}" fill="#1d232a">${escapeXml(shown)}</text></svg>`,
  );
}

/** The image as the encoder framed it (whole image for squash, the centre crop for crop), at panel size. */
async function framedImage(fig: AttentionFigure): Promise<{ pixels: Buffer; layout: FigureLayout }> {
  const oriented = sharp(fig.image, { failOn: 'error', pages: 1 }).rotate();
  let aspect: number;
  if (fig.encoder.resize === 'crop') {
    aspect = fig.encoder.inputSize[0] / fig.encoder.inputSize[1];
  } else {
    // squash stretches the whole image onto the grid: show it at its own shape, the grid stretched too
    const { width = 1, height = 1, orientation } = await sharp(fig.image, { pages: 1 }).metadata();
    aspect = orientation && orientation >= 5 ? width / height : height / width;
  }
  const layout = figureLayout(fig.words.length, aspect);
  const pixels = await oriented
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .resize(layout.panelWidth, layout.panelHeight, { fit: fig.encoder.resize === 'crop' ? 'cover' : 'fill', position: 'centre' })
    .removeAlpha()
    .png()
    .toBuffer();
  return { pixels, layout };
}

/** The PNG of one captioned image with its words' attention maps. */
export async function renderAttentionPng(fig: AttentionFigure): Promise<Buffer> {
  if (fig.weights.length !== fig.words.length) throw new Error(`${fig.words.length} words but ${fig.weights.length} attention rows`);
  const { pixels, layout } = await framedImage(fig);
  const { panelWidth: pw, panelHeight: ph } = layout;
  const [gh, gw] = fig.grid;
  const layers: OverlayOptions[] = [
    { input: textSvg(fig.caption, layout.width - 2 * GAP, HEADER_HEIGHT, { size: 17, bold: true, align: 'start' }), left: GAP, top: 0 },
  ];
  const labels = ['(image)', ...fig.words];
  for (let p = 0; p < labels.length; p++) {
    const left = GAP + (p % layout.columns) * (pw + GAP);
    const top = HEADER_HEIGHT + GAP + Math.floor(p / layout.columns) * (ph + LABEL_HEIGHT + GAP);
    let panel = pixels;
    if (p > 0) {
      // bicubic upsampling of the H x W map to the panel: smooth, peaks stay where the regions are
      const heat = await sharp(heatmapPixels(fig.weights[p - 1], fig.grid), { raw: { width: gw, height: gh, channels: 4 } })
        .resize(pw, ph, { fit: 'fill', kernel: 'cubic' })
        .png()
        .toBuffer();
      panel = await sharp(pixels)
        .composite([{ input: heat, blend: 'over' }])
        .png()
        .toBuffer();
    }
    layers.push({ input: panel, left, top });
    layers.push({ input: textSvg(labels[p], pw, LABEL_HEIGHT, { size: 16, bold: p > 0, align: 'middle' }), left, top: top + ph });
  }
  return sharp({ create: { width: layout.width, height: layout.height, channels: 3, background: '#ffffff' } })
    .composite(layers)
    .png()
    .toBuffer();
}
