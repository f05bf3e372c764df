// The offline caption page of `capgen export --format web` (and `capgen serve --client-side`): index.html
// and the page logic appended to capgen.js after TensorFlow.js and capgen-model.js. Everything runs in the
// browser: the image is decoded by the browser, never uploaded. For browser automation: images go in
// through <input type="file" id="file"> (drop and paste too); #caption carries data-caption (the text)
// and data-elapsed-ms (image chosen -> caption shown).
import { PAGE_STYLE } from '../../serve/page-assets.js';

/** An inline icon, so the browser does not ask the static host for /favicon.ico. */
const FAVICON = `data:image/svg+xml,${encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#2563eb"/><path d="M4 11h8M4 8h8M4 5h5" stroke="#fff" stroke-width="1.6"/></svg>')}`;

const EXTRA_STYLE = `
.attention { display: flex; flex-wrap: wrap; gap: 6px; margin: 0 0 10px; }
.attention figure { margin: 0; text-align: center; font-size: 0.8rem; color: var(--muted); }
.attention canvas { width: 64px; height: 64px; image-rendering: pixelated; border-radius: 4px; display: block; }
`;

export function renderIndexHtml(opts: { title: string; modelLine: string }): string {
  const esc = (t: string) =>
    t.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(opts.title)}</title>
<link rel="icon" href="${FAVICON}">
<style>${PAGE_STYLE}${EXTRA_STYLE}</style>
</head>
<body>
<main>
  <header>
    <h1>capgen</h1>
    <p class="model" id="model">${esc(opts.modelLine)} &middot; runs in this browser</p>
  </header>
  <label id="drop" class="drop" for="file">
    <input id="file" type="file" accept="image/*">
    <span class="drop-title">Drop an image here, paste one, or <u>choose a file</u></span>
    <span class="drop-note">The image never leaves this device: the model runs in the page.</span>
  </label>
  <div class="options">
    <label for="beam">Decoding</label>
    <select id="beam">
      <option value="1">greedy</option>
      <option value="3">beam search, 3 beams</option>
      <option value="5">beam search, 5 beams</option>
    </select>
  </div>
  <p id="status" class="status" role="status" aria-live="polite">loading the model...</p>
  <section id="result" class="card" hidden>
    <img id="preview" alt="the chosen image">
    <div class="text">
      <p id="caption" class="caption"></p>
      <div id="attention" class="attention"></div>
      <ol id="beams" class="beams"></ol>
      <p id="meta" class="meta"></p>
    </div>
  </section>
</main>
<script type="module" src="capgen.js"></script>
</body>
</html>
`;
}

/** Page logic (module code after capgen-model.js in capgen.js: loadCaptioner and prepareImage are in scope). */
export const PAGE_LOGIC = `
// ---- the page ----
const tfg = globalThis.tf;
const $ = (id) => document.getElementById(id);
let captioner = null;
let current = null; // { pixels, url }
let pending = Promise.resolve();

function setStatus(text, isError) {
  $('status').textContent = text;
  $('status').className = isError ? 'status error' : 'status';
}

async function startBackend() {
  // WASM first (fast on CPUs, same kernels as capgen on Node), then WebGL, then plain JS.
  if (tfg.wasm) tfg.wasm.setWasmPaths(new URL('./', location.href).href);
  for (const name of ['wasm', 'webgl', 'cpu']) {
    try {
      if (await tfg.setBackend(name)) return name;
    } catch (e) { /* try the next one */ }
  }
  throw new Error('no TensorFlow.js backend could start');
}

async function decodeFile(file) {
  const bitmap = await createImageBitmap(file, { premultiplyAlpha: 'none', colorSpaceConversion: 'none', imageOrientation: 'from-image' });
  const canvas = document.createElement('canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  const data = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
  bitmap.close();
  return prepareImage(data, canvas.width, canvas.height, captioner.manifest.image);
}

function showAttention(best) {
  const box = $('attention');
  box.textContent = '';
  if (!best.attention) return;
  const shape = captioner.manifest.image.featureShape;
  const rows = shape.length === 3 ? shape[0] : 1, cols = shape.length === 3 ? shape[1] : best.attention[0].length;
  const words = best.caption.split(' ').concat(['<end>']);
  best.attention.forEach((weights, i) => {
    const fig = document.createElement('figure');
    const canvas = document.createElement('canvas');
    canvas.width = cols; canvas.height = rows;
    const ctx = canvas.getContext('2d');
    const img = ctx.createImageData(cols, rows);
    const max = Math.max(...weights) || 1;
    weights.forEach((w, j) => { const v = Math.round(255 * w / max); img.data.set([v, v, v, 255], j * 4); });
    ctx.putImageData(img, 0, 0);
    const label = document.createElement('figcaption');
    label.textContent = words[i] || '';
    fig.append(canvas, label);
    box.append(fig);
  });
}

function captionCurrent(startedAt) {
  const beamSize = Number($('beam').value);
  const out = captioner.caption(current.pixels, { beamSize });
  const elapsedMs = performance.now() - startedAt;
  const el = $('caption');
  el.textContent = out.caption;
  el.setAttribute('data-caption', out.caption);
  el.setAttribute('data-elapsed-ms', elapsedMs.toFixed(1));
  const list = $('beams');
  list.textContent = '';
  if (beamSize > 1) {
    for (const b of out.beams) {
      const li = document.createElement('li');
      li.textContent = b.caption;
      const s = document.createElement('span');
      s.className = 'score';
      s.textContent = 'score ' + b.score.toFixed(2);
      li.append(s);
      list.append(li);
    }
  }
  showAttention(out);
  $('meta').textContent = 'captioned in ' + Math.round(elapsedMs) + ' ms on ' + tfg.getBackend();
  setStatus('');
}

function handleFile(file) {
  if (!file || !captioner) return;
  const startedAt = performance.now();
  pending = pending.then(async () => {
    setStatus('captioning...');
    $('caption').removeAttribute('data-caption');
    try {
      const pixels = await decodeFile(file);
      if (current) URL.revokeObjectURL(current.url);
      current = { pixels, url: URL.createObjectURL(file) };
      $('preview').src = current.url;
      $('result').hidden = false;
      captionCurrent(startedAt);
    } catch (e) {
      setStatus('cannot caption this file: ' + (e && e.message ? e.message : e), true);
    }
  });
}

$('file').addEventListener('change', () => { handleFile($('file').files[0]); $('file').value = ''; });
$('beam').addEventListener('change', () => { if (current) pending = pending.then(() => captionCurrent(performance.now())); });
const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('dragging'); });
drop.addEventListener('dragleave', () => drop.classList.remove('dragging'));
drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('dragging'); handleFile(e.dataTransfer.files[0]); });
document.addEventListener('paste', (e) => {
  const item = [...(e.clipboardData ? e.clipboardData.items : [])].find((i) => i.type.startsWith('image/'));
  if (item) handleFile(item.getAsFile());
});

(async () => {
  try {
    const backend = await startBackend();
    captioner = await loadCaptioner(tfg, new URL('./model/', location.href).href);
    // The export's --beam-size is the page's default when the menu offers it.
    const beam = String(captioner.manifest.decoding.beamSize);
    if ([...$('beam').options].some((o) => o.value === beam)) $('beam').value = beam;
    document.body.setAttribute('data-ready', backend);
    setStatus('ready (' + backend + '): choose, drop or paste an image');
  } catch (e) {
    setStatus('the model could not load: ' + (e && e.message ? e.message : e), true);
  }
})();
`;
