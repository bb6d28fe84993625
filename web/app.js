// The photosearch web page: pick or drop a photo, POST it to /v1/search as the
// raw body, show the results as a grid of thumbnails with scores.
'use strict';

const $ = (id) => document.getElementById(id);
const TYPES = ['image/jpeg', 'image/png', 'image/webp'];
let lastFile = null;

async function loadStatus() {
  try {
    const res = await fetch('/v1/shards');
    const info = await res.json();
    const shards = info.shards.length;
    $('status').textContent =
      `${info.items.toLocaleString()} items in ${shards} shard${shards === 1 ? '' : 's'} · model ${info.model}`;
  } catch (e) {
    $('status').textContent = 'server not reachable';
  }
}

function showError(message) {
  $('error').textContent = message;
  $('error').hidden = false;
}

function render(response) {
  const grid = $('results');
  grid.replaceChildren();
  for (const hit of response.results) {
    const figure = document.createElement('figure');
    figure.className = 'hit';
    if (hit.image_url) {
      const img = document.createElement('img');
      img.src = hit.image_url;
      img.alt = hit.item_id;
      img.loading = 'lazy';
      figure.append(img);
    }
    const caption = document.createElement('figcaption');
    const score = document.createElement('span');
    score.className = 'score';
    score.textContent = hit.score.toFixed(3);
    caption.append(score, ' ', hit.item_id);
    figure.append(caption);
    grid.append(figure);
  }
  const t = response.took_ms;
  $('timing').textContent = `${response.results.length} results in ${t.total.toFixed(1)} ms ` +
    `(decode ${t.decode.toFixed(1)}, embed ${t.embed.toFixed(1)}, search ${t.search.toFixed(2)})`;
}

async function search(file) {
  lastFile = file;
  $('error').hidden = true;
  const preview = $('preview');
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
  $('drop-hint').hidden = true;
  const type = TYPES.includes(file.type) ? file.type : 'application/octet-stream';
  try {
    const res = await fetch(`/v1/search?k=${$('k').value}`, {
      method: 'POST', headers: { 'Content-Type': type }, body: file,
    });
    const body = await res.json();
    if (!res.ok) {
      $('results').replaceChildren();
      $('timing').textContent = '';
      showError(body.error ? body.error.message : `HTTP ${res.status}`);
      return;
    }
    render(body);
  } catch (e) {
    showError(`search failed: ${e.message}`);
  }
}

$('file').addEventListener('change', (e) => {
  if (e.target.files.length) search(e.target.files[0]);
});
$('k').addEventListener('change', () => { if (lastFile) search(lastFile); });
const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  if (e.dataTransfer.files.length) search(e.dataTransfer.files[0]);
});
drop.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); $('file').click(); }
});
loadStatus();
