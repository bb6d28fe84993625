// The photosearch web page: pick or drop a photo, POST it to /v1/search as the
// raw body, show the results as a grid of thumbnails with scores. With
// detection (?detect=all) the detected objects are drawn over the photo; a
// click on one shows its results, "whole photo" the photo's. With
// ?detect=primary the one box searched is drawn.
'use strict';

const $ = (id) => document.getElementById(id);
const TYPES = ['image/jpeg', 'image/png', 'image/webp'];
let lastFile = null;

async function loadStatus() {
  try {
    const res = await fetch('/v1/shards');
    const info = await res.json();
    const shards = info.shards.length;
    if (!info.detection) {  // the server runs without a detector
      $('detect').value = 'whole';
      $('detect').disabled = true;
    }
    $('status').textContent =
      `${info.items.toLocaleString()} items in ${shards} shard${shards === 1 ? '' : 's'} · model ${info.model}`;
  } catch (e) {
    if (!info.detection) {  // the server runs without a detector
      $('detect').value = 'whole';
      $('detect').disabled = true;
    }
    $('status').textContent = 'server not reachable';
  }
}

function showError(message) {
  $('error').textContent = message;
  $('error').hidden = false;
}

// A box over the preview: the photo's pixels placed in percent, so that it
// follows the preview's displayed size.
function boxElement(o, image, active) {
  const [x0, y0, x1, y1] = o.box;
  const box = document.createElement('span');
  box.className = 'box' + (active ? ' active' : '');
  box.title = `${o.class} ${o.score.toFixed(2)}`;
  Object.assign(box.style, {
    left: `${(100 * x0) / image.width}%`, top: `${(100 * y0) / image.height}%`,
    width: `${(100 * (x1 - x0)) / image.width}%`, height: `${(100 * (y1 - y0)) / image.height}%`,
  });
  const label = document.createElement('span');
  label.textContent = o.labelled === false ? 'object' : o.class;
  box.append(label);
  return box;
}

// detect=primary: the box searched, or a note that it was the whole photo.
function drawPrimary(response) {
  const primary = (response.objects || []).find((o) => o.primary);
  if (!primary) {
    $('boxes').replaceChildren();
    $('objects').replaceChildren('no object stands out: results for the whole photo.');
    return;
  }
  const box = boxElement(primary, response.image, true);
  box.classList.add('primary');
  $('boxes').replaceChildren(box);
  $('objects').replaceChildren(primary.labelled === false
    ? 'results for the main object (outlined).'
    : `results for the main object, the ${primary.class} (outlined).`);
}

// detect=all: every object that has results, clickable.
function drawObjects(response, selected) {
  const boxes = $('boxes');
  boxes.replaceChildren();
  if (response.detect === 'primary' && response.image) {
    drawPrimary(response);
    return;
  }
  const objects = response.objects || [];
  const searchable = objects.filter((o) => o.results && o.results.length);
  if (!response.image || !searchable.length) {
    $('objects').replaceChildren();
    return;
  }
  objects.forEach((o, i) => {
    if (!o.results || !o.results.length) return;
    const box = boxElement(o, response.image, i === selected);
    box.dataset.index = i;
    box.addEventListener('click', (e) => {
      e.preventDefault();  // inside the file chooser's label
      e.stopPropagation();
      render(response, i);
    });
    boxes.append(box);
  });
  const whole = document.createElement('button');
  whole.textContent = 'whole photo';
  whole.disabled = selected < 0;
  whole.addEventListener('click', () => render(response, -1));
  $('objects').replaceChildren(
    selected < 0 ? `${searchable.length} object${searchable.length === 1 ? '' : 's'} found: ` +
      'click one to see its results. ' : `results for the ${objects[selected].class}. `,
    whole);
}

function render(response, selected = -1) {
  drawObjects(response, selected);
  const grid = $('results');
  grid.replaceChildren();
  const results = selected < 0 ? response.results : response.objects[selected].results;
  for (const hit of results) {
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
  $('timing').textContent = `${results.length} results in ${t.total.toFixed(1)} ms ` +
    `(decode ${t.decode.toFixed(1)}, ` + (t.detect ? `detect ${t.detect.toFixed(1)}, ` : '') +
    `embed ${t.embed.toFixed(1)}, search ${t.search.toFixed(2)})`;
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
    const res = await fetch(`/v1/search?k=${$('k').value}&detect=${$('detect').value}`, {
      method: 'POST', headers: { 'Content-Type': type }, body: file,
    });
    const body = await res.json();
    if (!res.ok) {
      $('results').replaceChildren();
      $('boxes').replaceChildren();
      $('objects').replaceChildren();
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
$('detect').addEventListener('change', () => { if (lastFile) search(lastFile); });
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
