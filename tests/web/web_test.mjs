// The web page of `photosearch serve`, in Debian's Chromium (headless):
// choose a photo -> a grid of thumbnails with scores; change k; drop a photo;
// a bad photo shows the server's error and the next search still works.
//
// Environment (set by CTest): PHOTOSEARCH_BIN, PHOTOSEARCH_ASSETS (or
// PHOTOSEARCH_ASSETS_DEFAULT), CHROMIUM (default /usr/bin/chromium).
// Everything runs on 127.0.0.1; the whole test is bounded to 3 minutes.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { chromium } from 'playwright-core';

const bin = process.env.PHOTOSEARCH_BIN || 'build/photosearch';
const assets = process.env.PHOTOSEARCH_ASSETS || process.env.PHOTOSEARCH_ASSETS_DEFAULT ||
  '../shared/assets';
const photos = path.join(assets, 'photos/grocery_store/test/Fruit/Kiwi');
const query = path.join(photos, 'Kiwi_007.jpg');

const deadline = setTimeout(() => {
  console.error('web_test: timed out after 180 s');
  process.exit(1);
}, 180_000);

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'photosearch-web-'));
let server = null;
let browser = null;

function startServer(repo) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['serve', '--repo', repo, '--photos', photos, '--host', '127.0.0.1',
      '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => reject(new Error('serve did not start within 60 s')), 60_000);
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const m = line.match(/listening on (http:\/\/[\d.]+:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    });
  });
}

async function hits(page) {
  return page.$$eval('#results figure.hit', (figs) => figs.map((f) => ({
    caption: f.querySelector('figcaption').textContent,
    score: Number(f.querySelector('.score').textContent),
    src: f.querySelector('img') && f.querySelector('img').getAttribute('src'),
  })));
}

async function main() {
  const repo = path.join(scratch, 'repo');
  const index = spawnSync(bin, ['index', '--photos', photos, '--repo', repo], { encoding: 'utf8' });
  assert.equal(index.status, 0, `photosearch index failed: ${index.stderr}`);
  const started = await startServer(repo);
  server = started.child;

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
      '--disable-background-networking', '--no-first-run'],
  });
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  await page.goto(started.url + '/');
  await page.waitForFunction(() => /items in 1 shard/.test(document.getElementById('status').textContent));

  // Choose a photo: ten results, the photo itself first with score ~1, thumbnails load.
  await page.setInputFiles('#file', query);
  await page.waitForSelector('#results figure.hit');
  let grid = await hits(page);
  assert.equal(grid.length, 10);
  assert.match(grid[0].caption, /Kiwi_007\.jpg/);
  assert.ok(grid[0].score > 0.999, `self-match score ${grid[0].score}`);
  for (let i = 1; i < grid.length; i++) assert.ok(grid[i - 1].score >= grid[i].score, 'scores sorted');
  assert.equal(grid[0].src, '/photos/Kiwi_007.jpg');
  await page.waitForFunction(() => {
    const img = document.querySelector('#results figure.hit img');
    return img && img.complete && img.naturalWidth > 0;
  });
  assert.match(await page.textContent('#timing'), /10 results in [\d.]+ ms/);
  assert.equal(await page.isVisible('#preview'), true);

  // Fewer results.
  await page.selectOption('#k', '5');
  await page.waitForFunction(() => document.querySelectorAll('#results figure.hit').length === 5);

  // A truncated JPEG: the server's message is shown, the grid is cleared.
  const bytes = fs.readFileSync(query);
  await page.setInputFiles('#file', {
    name: 'broken.jpg', mimeType: 'image/jpeg', buffer: bytes.subarray(0, bytes.length >> 1),
  });
  await page.waitForSelector('#error', { state: 'visible' });
  assert.match(await page.textContent('#error'), /truncated JPEG/);
  assert.equal((await hits(page)).length, 0);

  // Not an image at all.
  await page.setInputFiles('#file', {
    name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello'),
  });
  await page.waitForFunction(() => /not an image/.test(document.getElementById('error').textContent));

  // Drop a photo on the drop zone: the error goes away and results come back.
  const dataTransfer = await page.evaluateHandle(async (url) => {
    const blob = await (await fetch(url)).blob();
    const dt = new DataTransfer();
    dt.items.add(new File([blob], 'dropped.jpg', { type: 'image/jpeg' }));
    return dt;
  }, '/photos/Kiwi_010.jpg');
  await page.dispatchEvent('#drop', 'drop', { dataTransfer });
  await page.waitForSelector('#error', { state: 'hidden' });
  await page.waitForFunction(() => document.querySelectorAll('#results figure.hit').length === 5);
  grid = await hits(page);
  assert.match(grid[0].caption, /Kiwi_010\.jpg/);
  // Objects: boxes drawn over a scene photo; a click shows that object's results.
  await page.setInputFiles('#file', path.join(assets, 'photos/scenes/coffee.jpg'));
  // (The previous photo's boxes are replaced when the answer arrives.)
  await page.waitForFunction(() =>
    [...document.querySelectorAll('#boxes .box')].some((b) => b.textContent === 'cup'));
  await page.click('#boxes .box >> nth=0');
  await page.waitForFunction(() => /results for the/.test(document.getElementById('objects').textContent));
  assert.equal(await page.$$eval('#boxes .box.active', (b) => b.length), 1);
  assert.equal((await hits(page)).length, 5);
  await page.click('#objects button');
  await page.waitForFunction(() => /objects? found/.test(document.getElementById('objects').textContent));
  // The main object only: the one box searched is drawn, the results are its.
  await page.selectOption('#detect', 'primary');
  await page.waitForFunction(() => /main object, the cup/.test(document.getElementById('objects').textContent));
  assert.equal(await page.$$eval('#boxes .box.primary.active', (b) => b.length), 1);
  assert.equal(await page.$eval('#boxes .box', (b) => b.textContent), 'cup');
  assert.equal((await hits(page)).length, 5);
  assert.deepEqual(consoleErrors, []);
  console.log('web_test: choose, k, truncated JPEG, non-image, drop and objects all behave');
}

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  console.error(`web_test: ${e.stack || e}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  if (server) server.kill('SIGTERM');
  fs.rmSync(scratch, { recursive: true, force: true });
  clearTimeout(deadline);
}
process.exit(failed ? 1 : 0);
