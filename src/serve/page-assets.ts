// The inline stylesheet and script of the page (page.ts). Plain ES2017 in the browser, no framework;
// every text from the server or the user is set with textContent, never parsed as HTML.

export const PAGE_STYLE = `
:root { color-scheme: light dark; --fg: #1d232a; --muted: #5b6672; --bg: #f4f6f8; --card: #fff; --line: #d5dbe1; --accent: #2563eb; --bad: #b42318; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ec; --muted: #9aa5b1; --bg: #15191e; --card: #1e242b; --line: #36404a; --accent: #6ea2ff; --bad: #ff8a80; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 760px; margin: 0 auto; padding: 16px; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 12px; margin-bottom: 12px; }
h1 { font-size: 1.6rem; margin: 0; letter-spacing: -0.02em; }
h2 { font-size: 1rem; margin: 20px 0 8px; color: var(--muted); font-weight: 600; }
.model { margin: 0; color: var(--muted); font-size: 0.85rem; overflow-wrap: anywhere; }
.drop { display: flex; flex-direction: column; align-items: center; justify-content: center; gap: 6px; min-height: 140px; padding: 20px; text-align: center;
  border: 2px dashed var(--line); border-radius: 14px; background: var(--card); cursor: pointer; transition: border-color .15s, background .15s; }
.drop:hover, .drop.dragging { border-color: var(--accent); }
.drop.dragging { background: color-mix(in srgb, var(--accent) 8%, var(--card)); }
.drop input { position: absolute; width: 1px; height: 1px; opacity: 0; }
.drop-title { font-size: 1.1rem; font-weight: 600; }
.drop-title u { color: var(--accent); text-decoration-thickness: 2px; }
.drop-note { color: var(--muted); font-size: 0.85rem; max-width: 36em; }
.options { display: flex; align-items: center; gap: 10px; margin: 12px 2px; }
.options label { color: var(--muted); font-size: 0.9rem; }
select { font: inherit; padding: 6px 10px; border-radius: 8px; border: 1px solid var(--line); background: var(--card); color: var(--fg); }
.card { display: flex; flex-wrap: wrap; gap: 16px; padding: 14px; border-radius: 14px; background: var(--card); box-shadow: 0 1px 3px rgba(0,0,0,.12); }
.card img { flex: 1 1 260px; max-width: 100%; max-height: 420px; object-fit: contain; border-radius: 10px; background: var(--bg); }
.card .text { flex: 1 1 240px; min-width: 0; }
.status { margin: 0 0 6px; color: var(--muted); font-size: 0.9rem; min-height: 1.2em; }
.status.error { color: var(--bad); font-weight: 600; }
.caption { margin: 0 0 10px; font-size: 1.35rem; font-weight: 600; line-height: 1.3; overflow-wrap: anywhere; }
.caption:empty { display: none; }
.beams-title { margin: 0 0 2px; color: var(--muted); font-size: 0.85rem; }
.beams { margin: 0 0 10px; padding-left: 1.4em; }
.beams li { margin: 3px 0; }
.beams .score { color: var(--muted); font-variant-numeric: tabular-nums; font-size: 0.85rem; margin-left: 6px; }
.meta { margin: 0; color: var(--muted); font-size: 0.8rem; }
.recent { list-style: none; margin: 0; padding: 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 8px; }
.recent li { display: flex; gap: 10px; align-items: center; padding: 8px; border-radius: 10px; background: var(--card); cursor: pointer; border: 1px solid transparent; }
.recent li:hover, .recent li:focus { border-color: var(--accent); outline: none; }
.recent img { width: 56px; height: 56px; object-fit: cover; border-radius: 6px; flex: none; }
.recent span { font-size: 0.85rem; overflow-wrap: anywhere; display: -webkit-box; -webkit-line-clamp: 3; -webkit-box-orient: vertical; overflow: hidden; }
[hidden] { display: none !important; }
`;

export const PAGE_SCRIPT = `
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('config').textContent);
  function $(id) { return document.getElementById(id); }
  var drop = $('drop'), fileInput = $('file'), beamSelect = $('beam');
  var RECENT_KEY = 'capgen.recent', MAX_RECENT = 6;
  var current = null, sequence = 0, previewUrl = null, lastRemembered = null;

  function setStatus(text, isError) {
    $('status').textContent = text;
    $('status').className = isError ? 'status error' : 'status';
  }
  function clearResult() { $('caption').textContent = ''; $('beams').textContent = ''; $('beams-title').hidden = true; $('meta').textContent = ''; }

  function showPreview(src) {
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = src.indexOf('blob:') === 0 ? src : null;
    $('preview').src = src;
    $('result').hidden = false;
  }

  function showAnswer(answer) {
    $('caption').textContent = answer.caption;
    var list = $('beams');
    list.textContent = '';
    $('beams-title').hidden = !(answer.beams && answer.beams.length);
    (answer.beams || []).forEach(function (beam) {
      var li = document.createElement('li');
      li.textContent = beam.caption;
      var score = document.createElement('span');
      score.className = 'score';
      score.textContent = 'score ' + beam.score.toFixed(2);
      score.title = 'total log-probability of the caption (divided by length^alpha with --length-penalty alpha)';
      li.appendChild(score);
      list.appendChild(li);
    });
    var how = answer.beamSize > 1 ? 'beam search, ' + answer.beamSize + ' beams' : 'greedy';
    var size = answer.image ? answer.image.width + 'x' + answer.image.height + ' ' + answer.image.format + ' · ' : '';
    $('meta').textContent = size + how + ' · ' + Math.round(answer.elapsedMs) + ' ms · ' + answer.model;
  }

  function send(file) {
    if (!file) return;
    current = file;
    var mine = ++sequence;
    clearResult();
    showPreview(URL.createObjectURL(file));
    if (file.size > config.maxUploadBytes) {
      setStatus('This file is ' + (file.size / 1048576).toFixed(1) + ' MB; the limit is ' + (config.maxUploadBytes / 1048576).toFixed(1) + ' MB.', true);
      return;
    }
    setStatus('Captioning…', false);
    var form = new FormData();
    form.append('image', file, 'upload');
    fetch('api/caption?beam=' + encodeURIComponent(beamSelect.value), { method: 'POST', body: form })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (res) {
        if (mine !== sequence) return;
        if (!res.ok) {
          setStatus(res.body.error + (res.body.hint ? ' (' + res.body.hint + ')' : ''), true);
          return;
        }
        setStatus('', false);
        showAnswer(res.body);
        remember(file, res.body);
      })
      .catch(function (e) {
        if (mine === sequence) setStatus('The server did not answer: ' + e.message, true);
      });
  }

  function loadRecent() {
    try { return JSON.parse(sessionStorage.getItem(RECENT_KEY) || '[]'); } catch (e) { return []; }
  }

  function remember(file, answer) {
    var img = new Image();
    var url = URL.createObjectURL(file);
    img.onload = function () {
      var side = 112, scale = Math.min(1, side / Math.max(img.naturalWidth, img.naturalHeight));
      var canvas = document.createElement('canvas');
      canvas.width = Math.max(1, Math.round(img.naturalWidth * scale));
      canvas.height = Math.max(1, Math.round(img.naturalHeight * scale));
      canvas.getContext('2d').drawImage(img, 0, 0, canvas.width, canvas.height);
      URL.revokeObjectURL(url);
      var items = loadRecent();
      // Re-captioning the same file (another beam setting) updates its entry instead of adding one.
      if (lastRemembered === file) items.shift();
      lastRemembered = file;
      items.unshift({ name: file.name, thumb: canvas.toDataURL('image/jpeg', 0.8), answer: answer });
      items = items.slice(0, MAX_RECENT);
      try { sessionStorage.setItem(RECENT_KEY, JSON.stringify(items)); } catch (e) { /* storage full: the list is a convenience */ }
      renderRecent();
    };
    img.onerror = function () { URL.revokeObjectURL(url); };
    img.src = url;
  }

  function renderRecent() {
    var items = loadRecent(), list = $('recent');
    list.textContent = '';
    $('recent-box').hidden = items.length === 0;
    items.forEach(function (item) {
      var li = document.createElement('li');
      li.tabIndex = 0;
      li.title = item.name;
      var thumb = document.createElement('img');
      thumb.src = item.thumb;
      thumb.alt = '';
      var text = document.createElement('span');
      text.textContent = item.answer.caption;
      li.appendChild(thumb);
      li.appendChild(text);
      function show() { current = null; sequence++; setStatus(item.name, false); showPreview(item.thumb); showAnswer(item.answer); }
      li.addEventListener('click', show);
      li.addEventListener('keydown', function (e) { if (e.key === 'Enter') show(); });
      list.appendChild(li);
    });
  }

  fileInput.addEventListener('change', function () { send(fileInput.files[0]); fileInput.value = ''; });
  beamSelect.addEventListener('change', function () { if (current) send(current); });
  ['dragenter', 'dragover'].forEach(function (type) {
    document.addEventListener(type, function (e) { e.preventDefault(); drop.classList.add('dragging'); });
  });
  ['dragleave', 'drop'].forEach(function (type) {
    document.addEventListener(type, function (e) { e.preventDefault(); if (type === 'drop' || e.target === drop) drop.classList.remove('dragging'); });
  });
  document.addEventListener('drop', function (e) { if (e.dataTransfer && e.dataTransfer.files.length) send(e.dataTransfer.files[0]); });
  document.addEventListener('paste', function (e) { if (e.clipboardData && e.clipboardData.files.length) send(e.clipboardData.files[0]); });
  renderRecent();
})();
`;
