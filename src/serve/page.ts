// The one web page `capgen serve` shows at GET /: self-contained HTML with inline CSS and JS (no build
// step, no CDN), protected by a Content-Security-Policy that allows exactly its own script and style.
import { createHash } from 'node:crypto';
import { PAGE_SCRIPT, PAGE_STYLE } from './page-assets.js';
import type { CaptionerInfo } from './types.js';

/** The page's decoding unless the visitor picks another (the API's default stays greedy: see README). */
export const PAGE_DEFAULT_BEAM_SIZE = 3;

export interface PageOptions {
  maxUploadBytes: number;
  maxBeamSize: number;
  info: CaptionerInfo;
  /** The decoding preselected on the page (serve --beam-size); default PAGE_DEFAULT_BEAM_SIZE. */
  beamSize?: number;
}

export interface RenderedPage {
  html: string;
  contentSecurityPolicy: string;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** An inline icon, so the browser does not ask for /favicon.ico. */
const FAVICON = `data:image/svg+xml,${encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#2563eb"/><path d="M4 11h8M4 8h8M4 5h5" stroke="#fff" stroke-width="1.6"/></svg>')}`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

export function renderPage(options: PageOptions): RenderedPage {
  const { info, maxUploadBytes, maxBeamSize } = options;
  const limitMb = Math.round((maxUploadBytes / 2 ** 20) * 10) / 10;
  // A JSON data block is never executed, so it needs no CSP entry; '<' is escaped so it cannot end the tag.
  const config = JSON.stringify({ maxUploadBytes, maxBeamSize }).replace(/</g, '\\u003c');
  const asked = options.beamSize;
  const beamChoices = [...new Set([3, 5, 10, ...(asked && asked > 1 ? [asked] : [])])]
    .filter((k) => k <= maxBeamSize)
    .sort((a, b) => a - b);
  // Beam 3 by default: greedy decoding repeats itself on ordinary photos ("a man with a hat and a hat").
  const defaultBeam = asked ?? (beamChoices.includes(PAGE_DEFAULT_BEAM_SIZE) ? PAGE_DEFAULT_BEAM_SIZE : 1);
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>capgen: caption an image</title>
<link rel="icon" href="${FAVICON}">
<style>${PAGE_STYLE}</style>
</head>
<body>
<main>
  <header>
    <h1>capgen</h1>
    <p class="model" id="model">${escapeHtml(info.model)} &middot; ${escapeHtml(info.encoder)} &middot; ${escapeHtml(info.backend)}</p>
  </header>
  <label id="drop" class="drop" for="file">
    <input id="file" type="file" accept="image/*">
    <span class="drop-title">Drop an image here or <u>choose a file</u></span>
    <span class="drop-note">JPEG, PNG, WebP, GIF or TIFF, up to ${limitMb} MB. The image stays in memory on the server; nothing is saved.</span>
  </label>
  <div class="options">
    <label for="beam">Decoding</label>
    <select id="beam">
      <option value="1"${defaultBeam === 1 ? ' selected' : ''}>greedy</option>
      ${beamChoices.map((k) => `<option value="${k}"${k === defaultBeam ? ' selected' : ''}>beam search, ${k} beams</option>`).join('\n      ')}
    </select>
  </div>
  <section id="result" class="card" hidden>
    <div class="figure">
      <img id="preview" alt="the uploaded image">
      <canvas id="heat" class="heat" hidden></canvas>
    </div>
    <div class="text">
      <p id="status" class="status" role="status" aria-live="polite"></p>
      <p id="caption" class="caption"></p>
      <p id="hint" class="meta" hidden>Point at a word (or tap it) to see where the model looked.</p>
      <p id="beams-title" class="beams-title" hidden>The beam's candidates, best first:</p>
      <ol id="beams" class="beams"></ol>
      <p id="meta" class="meta"></p>
    </div>
  </section>
  <section id="recent-box" hidden>
    <h2>Recent in this session</h2>
    <ul id="recent" class="recent"></ul>
  </section>
</main>
<script type="application/json" id="config">${config}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
  const contentSecurityPolicy = [
    "default-src 'none'",
    `script-src ${sha256(PAGE_SCRIPT)}`,
    `style-src ${sha256(PAGE_STYLE)}`,
    "img-src 'self' blob: data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { html, contentSecurityPolicy };
}
