// Drives the capture page in the system's headless Chromium (puppeteer-core, which downloads no
// browser), for test_web_page.py. Usage:
//   node drive_page.mjs goldens URL OUTDIR PHOTO       score models/golden/ in the page, then
//                                                      choose PHOTO with the file input (no camera)
//   node drive_page.mjs camera URL OUTDIR CLIP.y4m     the live flow on a fake camera
// Writes OUTDIR/result.json (and PNGs of the frames the page judged); exits non-zero on failure.
import { createRequire } from 'node:module';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', '..', 'web', 'package.json'));
const puppeteer = require('puppeteer-core');

const CHROMIUM = process.env.NIMA_CHROMIUM ?? '/usr/bin/chromium';
const STEP_TIMEOUT_MS = Number(process.env.NIMA_WEB_STEP_TIMEOUT_MS ?? 45_000);
const [mode, url, outDir, input] = process.argv.slice(2);
const clip = mode === 'camera' ? input : null;
const photo = mode === 'goldens' ? input : null;

function chromiumArgs() {
  const args = ['--no-sandbox', '--disable-gpu', '--mute-audio', '--no-first-run', '--disable-dev-shm-usage',
    '--use-fake-ui-for-media-stream']; // grants the camera without a prompt
  if (clip) args.push('--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${clip}`);
  return args;
}

async function openPage(browser, pageUrl, requests, consoleLines) {
  const page = await browser.newPage();
  await page.setViewport({ width: 480, height: 800, deviceScaleFactor: 1 });
  page.on('console', (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
  page.on('pageerror', (error) => consoleLines.push(`pageerror: ${error.message}`));
  page.on('request', (request) => requests.push({ method: request.method(), url: request.url(), t: Date.now() }));
  await page.goto(pageUrl, { waitUntil: 'load' });
  return page;
}

const waitFor = (page, predicate, arg, what) => page.waitForFunction(predicate, { timeout: STEP_TIMEOUT_MS, polling: 100 }, arg)
  .catch(async (error) => {
    const state = await page.evaluate(() => ({ state: window.nimaCapture?.state, error: window.nimaCapture?.error,
      events: window.nimaCapture?.events, last: window.nimaCapture?.log.slice(-3) }));
    throw new Error(`timed out waiting for ${what}: ${error.message}\npage: ${JSON.stringify(state)}`);
  });

async function goldens(page) {
  await waitFor(page, () => window.nimaCapture.metadata || window.nimaCapture.error, null, 'the model to load');
  return page.evaluate(async () => {
    const { loadScorer } = await import('./js/scorer.js');
    const { decodeImageFile } = await import('./js/camera.js');
    const { preprocess, rgbFromRgba } = await import('./js/preprocess.js');
    const { sha256Hex } = await import('./js/tflite-metadata.js');
    const scorer = await loadScorer(window.nimaCapture.config.modelUrl);
    const golden = await (await fetch('golden/golden.json')).json();
    const canvas = document.createElement('canvas');
    const cases = [];
    for (const item of golden.cases) {
      const blob = await (await fetch(`golden/${item.file}`)).blob();
      const frame = await decodeImageFile(blob, canvas); // the page's own decoder: the file-input path
      const t0 = performance.now();
      const input = preprocess(rgbFromRgba(frame.width, frame.height, frame.rgba), scorer.spec);
      const t1 = performance.now();
      const score = await scorer.scoreInput(input);
      const t2 = performance.now();
      cases.push({ file: item.file, width: frame.width, height: frame.height, sha256: await sha256Hex(input),
        distribution: Array.from(score.distribution), mean: score.mean, std: score.std, extras: score.extras,
        ms: { preprocess: t1 - t0, model: t2 - t1 } });
    }
    // Model time on its own, warm: the figure for the README.
    const input = new Uint8Array(scorer.metadata.input_size[0] * scorer.metadata.input_size[1] * 3).fill(128);
    const runs = [];
    for (let i = 0; i < 10; i++) { const t = performance.now(); await scorer.scoreInput(input); runs.push(performance.now() - t); }
    runs.sort((a, b) => a - b);
    // One run of the network alone, interleaved in the same page: what the mirror's second run costs.
    const once = [];
    for (let i = 0; i < 10; i++) { const t = performance.now(); await scorer.run(input); once.push(performance.now() - t); }
    once.sort((a, b) => a - b);
    return { cases, modelMedianMs: runs[5], oneRunMedianMs: once[5], stats: window.nimaCapture.stats };
  });
}

const promptText = (page) => page.evaluate(() => ({
  headline: document.getElementById('headline').textContent, reason: document.getElementById('reason').textContent,
  state: document.getElementById('prompt').dataset.state }));

/** No camera here: the page says so; a photo chosen with the file input is judged instead. */
async function chooseFile(page) {
  await waitFor(page, () => /choose a photo/.test(document.getElementById('reason').textContent), null, 'the no-camera prompt');
  const noCameraPrompt = await promptText(page);
  const fileInput = await page.$('#file-input');
  await fileInput.uploadFile(photo);
  await waitFor(page, () => window.nimaCapture.events.some((e) => e.event === 'file'), null, 'the chosen photo to be judged');
  const chosenFile = await page.evaluate(() => ({
    event: window.nimaCapture.events.find((e) => e.event === 'file'),
    reviewVisible: !document.getElementById('review').hidden,
    reviewNote: document.getElementById('review-note').textContent }));
  return { noCameraPrompt, chosenFile };
}

async function savePng(dataUrl, path) {
  writeFileSync(path, Buffer.from(dataUrl.split(',')[1], 'base64'));
}

/** The prompt and the last frames the page judged, taken at one instant, the frames as PNGs. */
async function snapshot(page, prefix) {
  const taken = await page.evaluate(() => {
    const record = window.nimaCapture;
    window.snapshotFrames = record.keptFrames.slice();
    return {
      prompt: { headline: document.getElementById('headline').textContent, reason: document.getElementById('reason').textContent,
        state: document.getElementById('prompt').dataset.state },
      frames: window.snapshotFrames.map((k) => record.log.find((entry) => entry.frame === k.frame)),
    };
  });
  const frames = [];
  for (let i = 0; i < taken.frames.length; i++) {
    const path = join(outDir, `${prefix}-${taken.frames[i].frame}.png`);
    const dataUrl = await page.evaluate(async (k) => {
      const { encodeFrame } = await import('./js/camera.js');
      const blob = await encodeFrame(window.snapshotFrames[k].pixels, document.createElement('canvas'), 'image/png');
      return new Promise((resolve) => { const r = new FileReader(); r.onload = () => resolve(r.result); r.readAsDataURL(blob); });
    }, i);
    await savePng(dataUrl, path);
    frames.push({ path, ...taken.frames[i] });
  }
  return { prompt: taken.prompt, frames };
}

async function camera(page, requests) {
  const result = {};
  // A few frames into the bad stretch (the clip starts with it when the camera opens).
  await waitFor(page, () => window.nimaCapture.log.length >= 3 || window.nimaCapture.error, null, 'three judged frames');
  const bad = await snapshot(page, 'bad');
  result.retakePrompt = bad.prompt;
  result.badFrames = bad.frames;
  result.debugText = await page.evaluate(() => document.getElementById('debug').textContent);
  await page.screenshot({ path: join(outDir, 'live.png') });
  await waitFor(page, () => window.nimaCapture.captured || window.nimaCapture.error, null, '"ready" and an auto-captured frame');
  result.firstCapture = await page.evaluate(() => window.nimaCapture.captured);
  result.goodFrames = (await snapshot(page, 'good')).frames;
  await savePng(await page.evaluate(() => window.nimaCapture.reviewPng()), join(outDir, 'captured-1.png'));
  await page.screenshot({ path: join(outDir, 'review.png') });
  result.reviewVisible = await page.evaluate(() => !document.getElementById('review').hidden);
  // Retake: the live loop starts over, and captures again on the next good stretch.
  await page.click('#retake');
  await waitFor(page, () => window.nimaCapture.state === 'live', null, 'the live view after "Retake"');
  await waitFor(page, (n) => window.nimaCapture.events.filter((e) => e.event === 'captured').length > n,
    await page.evaluate(() => window.nimaCapture.events.filter((e) => e.event === 'captured').length), 'a second capture');
  result.secondCapture = await page.evaluate(() => window.nimaCapture.captured);
  await savePng(await page.evaluate(() => window.nimaCapture.reviewPng()), join(outDir, 'captured-2.png'));
  result.acceptedAt = Date.now();
  result.requestsBeforeAccept = requests.length;
  await page.click('#use-photo');
  await waitFor(page, () => window.nimaCapture.state === 'sent' || /Not sent/.test(document.getElementById('send-status').textContent),
    null, 'the photo to be sent');
  result.sendStatus = await page.evaluate(() => document.getElementById('send-status').textContent);
  result.events = await page.evaluate(() => window.nimaCapture.events);
  result.log = await page.evaluate(() => window.nimaCapture.log);
  result.stats = await page.evaluate(() => window.nimaCapture.stats);
  return result;
}

async function main() {
  mkdirSync(outDir, { recursive: true });
  const requests = [];
  const consoleLines = [];
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: chromiumArgs(), protocolTimeout: 120_000 });
  const output = { mode, requests, console: consoleLines };
  try {
    const launchedAt = Date.now();
    const page = await openPage(browser, url, requests, consoleLines);
    output.userAgent = await browser.userAgent();
    output.result = mode === 'goldens' ? { ...(await goldens(page)), ...(await chooseFile(page)) } : await camera(page, requests);
    output.seconds = (Date.now() - launchedAt) / 1000;
  } catch (error) {
    output.error = String(error.stack ?? error);
  } finally {
    await browser.close();
    writeFileSync(join(outDir, 'result.json'), JSON.stringify(output, null, 1));
  }
  if (output.error) {
    console.error(output.error);
    process.exit(1);
  }
}

await main();
