// The capture page: wires the camera, the capture session and the prompt together. Nothing
// leaves the device until the person presses "Use this photo": frames are judged here by the
// model, and only the accepted photo is posted (or downloaded).
//
// Settings: <body data-model data-upload-url>, or ?model=...&upload=... in the address.
// ?debug=1 shows the overlay (fps, per-frame ms); ?keep=N keeps the last N frames' pixels in
// window.nimaCapture for tests that compare the page's verdicts with `nima score`.

import { CaptureSession } from './capture-session.js';
import {
  cameraAvailable, closeCamera, decodeImageFile, encodeFrame, grabVideoFrame, nextVideoFrame, openCamera,
} from './camera.js';
import { retakeReasons } from './policy.js';
import { HEADLINES } from './prompt-state.js';
import { loadScorer } from './scorer.js';

const LOG_LENGTH = 300; // per-frame records kept for the debug API
const FPS_WINDOW_MS = 2000; // frames counted over this long for the fps figure

const $ = (id) => document.getElementById(id);
const ui = {
  video: $('preview'), prompt: $('prompt'), headline: $('headline'), reason: $('reason'),
  scoreFill: $('score-fill'), thresholdMark: $('threshold-mark'), fileInput: $('file-input'),
  live: $('live'), review: $('review'), photo: $('photo'), reviewNote: $('review-note'),
  usePhoto: $('use-photo'), retake: $('retake'), sendStatus: $('send-status'), status: $('status'),
  debug: $('debug'), frameCanvas: $('frame-canvas'),
};

const config = readConfig();
// What the page did, for the debug overlay and for tests (tests/web drive the page through it).
const record = {
  config, events: [], log: [], keptFrames: [], stats: {}, state: 'loading', captured: null, error: null,
};
window.nimaCapture = record;

let scorer = null;
let session = null;
let stream = null;
let liveGeneration = 0; // bumped to stop the live loop: only the loop of the current one runs
let reviewing = null; // {frame, source: "camera" | "file"}
const frameTimes = [];

function readConfig() {
  const query = new URLSearchParams(location.search);
  const body = document.body.dataset;
  return {
    modelUrl: query.get('model') ?? body.model ?? 'model.tflite',
    uploadUrl: query.get('upload') ?? body.uploadUrl ?? '',
    debug: query.get('debug') === '1',
    keepFrames: Math.max(0, Number.parseInt(query.get('keep') ?? '0', 10) || 0),
  };
}

async function main() {
  ui.debug.hidden = !config.debug;
  ui.usePhoto.textContent = config.uploadUrl ? 'Use this photo' : 'Use this photo (download)';
  ui.fileInput.addEventListener('change', onFileChosen);
  ui.usePhoto.addEventListener('click', onUsePhoto);
  ui.retake.addEventListener('click', onRetake);
  try {
    const t0 = performance.now();
    scorer = await loadScorer(config.modelUrl);
    record.stats.modelLoadMs = round1(performance.now() - t0);
    record.stats.modelBytes = scorer.sizeBytes;
    record.metadata = { view: scorer.metadata.view, inputSize: scorer.metadata.input_size, threshold: scorer.metadata.threshold };
  } catch (error) {
    fail(`The photo checker could not start: ${error.message}`, error);
    return;
  }
  session = new CaptureSession(scorer, { onEvent: (event) => record.events.push({ ...event, t: round1(performance.now()) }) });
  placeThresholdMark();
  if (!cameraAvailable()) {
    showNotice('NO CAMERA', 'No camera here: choose a photo instead');
    return;
  }
  try {
    stream = await openCamera(ui.video);
  } catch (error) {
    showNotice('NO CAMERA', `The camera did not open (${error.name}): choose a photo instead`);
    return;
  }
  startLive();
}

function startLive() {
  reviewing = null;
  ui.review.hidden = true;
  ui.live.hidden = false;
  ui.sendStatus.textContent = '';
  session.reset();
  setState('live');
  liveGeneration += 1;
  liveLoop(liveGeneration);
}

function stopLive() {
  liveGeneration += 1;
}

async function liveLoop(generation) {
  const active = () => generation === liveGeneration && reviewing === null;
  while (active()) {
    await nextVideoFrame(ui.video);
    if (!active() || ui.video.videoWidth === 0) continue;
    const t0 = performance.now();
    const frame = grabVideoFrame(ui.video, ui.frameCanvas);
    const grabMs = performance.now() - t0;
    let result;
    try {
      result = await session.processFrame(frame);
    } catch (error) {
      fail(`The photo checker stopped: ${error.message}`, error);
      break;
    }
    if (result === null || !active()) continue; // a photo was chosen or the run restarted meanwhile
    const totalMs = performance.now() - t0;
    noteFrame(frame, result, { grab: grabMs, ...result.ms, total: totalMs });
    const { assessment, state, ema } = result;
    showPrompt(state, state === 'retake' ? retakeReasons(assessment)[0] : '', ema);
    if (result.captured) showReview(result.captured.frame, 'camera', result.captured.mean);
  }
}

/** The prompt a person sees: headline, reason, score bar (runtime/watch.py _prompt). */
function showPrompt(state, reason, ema) {
  ui.prompt.dataset.state = state;
  ui.headline.textContent = HEADLINES[state];
  ui.reason.textContent = reason;
  const values = scorer.values;
  const share = (ema - values[0]) / (values[values.length - 1] - values[0]);
  ui.scoreFill.style.width = `${Math.round(Math.min(Math.max(share, 0), 1) * 1000) / 10}%`;
  record.stats.firstPromptMs ??= round1(performance.now()); // since the page started loading
}

function showNotice(headline, message) {
  ui.prompt.dataset.state = 'notice';
  ui.headline.textContent = headline;
  ui.reason.textContent = message;
}

function placeThresholdMark() {
  const values = scorer.values;
  const share = (session.threshold - values[0]) / (values[values.length - 1] - values[0]);
  ui.thresholdMark.style.left = `${share * 100}%`;
}

function showReview(frame, source, mean, assessment = null) {
  reviewing = { frame, source };
  ui.photo.width = frame.width;
  ui.photo.height = frame.height;
  ui.photo.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(frame.rgba), frame.width, frame.height), 0, 0);
  if (assessment && assessment.verdict === 'retake') {
    ui.reviewNote.textContent = `This photo may not be readable: ${assessment.reasons[0]}`;
  } else {
    ui.reviewNote.textContent = source === 'camera' ? 'Captured the sharpest frame. Is the whole prescription readable?'
      : 'Is the whole prescription readable?';
  }
  ui.live.hidden = true;
  ui.review.hidden = false;
  ui.usePhoto.disabled = false;
  record.captured = { source, width: frame.width, height: frame.height, mean: round4(mean), t: round1(performance.now()) };
  setState('review');
}

async function onFileChosen() {
  const file = ui.fileInput.files[0];
  ui.fileInput.value = '';
  if (!file || !scorer) return;
  stopLive();
  try {
    const frame = await decodeImageFile(file, ui.frameCanvas);
    const { assessment } = await session.assessFrame(frame);
    record.events.push({ event: 'file', verdict: assessment.verdict, mean: round4(assessment.mean), reasons: assessment.reasons });
    showReview(frame, 'file', assessment.mean, assessment);
  } catch (error) {
    ui.status.textContent = `That photo could not be read: ${error.message}`;
    if (stream && reviewing === null) startLive();
  }
}

/** The only place a photo leaves the page: after the person accepted it. */
async function onUsePhoto() {
  if (!reviewing) return;
  ui.usePhoto.disabled = true;
  const blob = await encodeFrame(reviewing.frame, ui.frameCanvas);
  if (!config.uploadUrl) {
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = `prescription-${new Date().toISOString().replace(/[:.]/g, '-')}.jpg`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    ui.sendStatus.textContent = 'Saved to your downloads.';
    record.events.push({ event: 'downloaded', bytes: blob.size });
    return;
  }
  ui.sendStatus.textContent = 'Sending…';
  try {
    const response = await fetch(config.uploadUrl, { method: 'POST', body: blob, headers: { 'Content-Type': 'image/jpeg' } });
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    ui.sendStatus.textContent = 'Sent. Thank you.';
    record.events.push({ event: 'sent', bytes: blob.size, status: response.status });
    closeCamera(stream);
    stream = null;
    setState('sent');
  } catch (error) {
    ui.sendStatus.textContent = `Not sent (${error.message}). Check the connection and try again.`;
    ui.usePhoto.disabled = false;
  }
}

function onRetake() {
  if (reviewing?.source === 'file' || !stream) {
    ui.review.hidden = true;
    ui.live.hidden = false;
    reviewing = null;
    if (stream) startLive(); else ui.fileInput.click();
    return;
  }
  record.events.push({ event: 'retake' });
  startLive();
}

function noteFrame(frame, result, ms) {
  const now = performance.now();
  frameTimes.push(now);
  while (frameTimes.length > 1 && now - frameTimes[0] > FPS_WINDOW_MS) frameTimes.shift();
  const fps = frameTimes.length > 1 ? (frameTimes.length - 1) / ((now - frameTimes[0]) / 1000) : 0;
  const { assessment } = result;
  const entry = {
    frame: session.frames, width: frame.width, height: frame.height, mean: assessment.mean, std: assessment.std,
    verdict: assessment.verdict, reasonCodes: assessment.reasonCodes, state: result.state, ema: result.ema,
    defects: result.score.extras.defects ?? {}, ms: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, round1(v)])),
  };
  record.log.push(entry);
  if (record.log.length > LOG_LENGTH) record.log.shift();
  if (config.keepFrames > 0) {
    record.keptFrames.push({ frame: entry.frame, pixels: frame });
    if (record.keptFrames.length > config.keepFrames) record.keptFrames.shift();
  }
  if (config.debug) {
    ui.debug.textContent = [
      `${fps.toFixed(1)} fps  frame ${frame.width}x${frame.height}`,
      `ms  grab ${ms.grab.toFixed(1)}  prep ${ms.preprocess.toFixed(1)}  model ${ms.model.toFixed(1)}  total ${ms.total.toFixed(1)}`,
      `mean ${assessment.mean.toFixed(2)}  ema ${result.ema.toFixed(2)}  ${result.state}`,
      `model ${(record.stats.modelBytes / 1024).toFixed(0)} KB, loaded in ${record.stats.modelLoadMs} ms`,
    ].join('\n');
  }
}

function setState(state) {
  record.state = state;
}

function fail(message, error) {
  stopLive();
  record.error = String(error?.stack ?? error);
  ui.status.textContent = message;
  ui.prompt.dataset.state = 'retake';
  ui.headline.textContent = 'UNAVAILABLE';
  ui.reason.textContent = '';
  setState('error');
  console.error(error);
}

/** The photo under review as a PNG data URL (lossless), for tests that score the same pixels in Python. */
record.reviewPng = async () => blobToDataUrl(await encodeFrame(reviewing.frame, document.createElement('canvas'), 'image/png'));

function blobToDataUrl(blob) {
  return new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.readAsDataURL(blob);
  });
}

function round1(value) { return Math.round(value * 10) / 10; }
function round4(value) { return Math.round(value * 1e4) / 1e4; }

main();
