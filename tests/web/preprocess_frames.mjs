// Runs the page's preprocessing (web/js/preprocess.js) in node on decoded frames, for
// test_web_preprocess.py. Usage: node preprocess_frames.mjs MANIFEST.json OUTDIR
// The manifest lists {name, width, height, rgb (a file of raw RGB bytes), spec}; for each case
// the model input is written to OUTDIR/NAME.bin, its mirror (mirrorInput) to OUTDIR/NAME.mirror.bin,
// and one JSON line reports the input's SHA-256 and ms.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mirrorInput, preprocess } from '../../web/js/preprocess.js';
import { makeImage } from '../../web/js/resize.js';

const [manifestPath, outDir] = process.argv.slice(2);
for (const item of JSON.parse(readFileSync(manifestPath, 'utf8'))) {
  const rgb = new Uint8Array(readFileSync(item.rgb));
  const start = performance.now();
  const input = preprocess(makeImage(item.width, item.height, 3, rgb), item.spec);
  const ms = performance.now() - start;
  writeFileSync(join(outDir, `${item.name}.bin`), input);
  const [height, width] = item.spec.inputSize;
  writeFileSync(join(outDir, `${item.name}.mirror.bin`), mirrorInput(input, height, width, item.spec.view));
  const sha256 = createHash('sha256').update(input).digest('hex');
  console.log(JSON.stringify({ name: item.name, sha256, bytes: input.length, ms: Math.round(ms * 10) / 10 }));
}
