// Runs the page's ported rules (web/js) in node on a job read from stdin, for
// test_web_preprocess.py, and prints what they give as one JSON document:
//   {"prompt_state": [{threshold, scores}], "decide": {values, threshold, cases: [{distribution, defects}]},
//    "sums": [[...]], "models": [path, ...]}
import { readFileSync, writeFileSync } from 'node:fs';
import { numpySum } from '../../web/js/distribution.js';
import { decide, retakeReasons } from '../../web/js/policy.js';
import { PromptState } from '../../web/js/prompt-state.js';
import { ioQuantization, withStaticBatch } from '../../web/js/tflite-flatbuffer.js';
import { readModelMetadata } from '../../web/js/tflite-metadata.js';

const job = JSON.parse(readFileSync(0, 'utf8'));
const out = {};

out.prompt_state = (job.prompt_state ?? []).map(({ threshold, scores }) => {
  const state = new PromptState(threshold);
  return scores.map((score) => {
    const changed = state.update(score);
    return { state: state.state, ema: state.ema, changed, goodRun: state.goodRun };
  });
});

if (job.decide) {
  const { values, threshold, cases } = job.decide;
  out.decide = cases.map(({ distribution, defects }) => {
    const score = { distribution: Float32Array.from(distribution), mean: NaN, extras: defects ? { defects } : {} };
    const assessment = decide(score, values, threshold);
    return { ...assessment, retakeReasons: retakeReasons(assessment) };
  });
}

out.sums = (job.sums ?? []).map(numpySum);

out.models = [];
for (const path of job.models ?? []) {
  try {
    const { metadata, flatbuffer } = await readModelMetadata(new Uint8Array(readFileSync(path)));
    const entry = { path, metadata, flatbufferBytes: flatbuffer.length, io: ioQuantization(flatbuffer) };
    if (job.static_batch_dir) {
      entry.staticBatch = `${job.static_batch_dir}/static-${out.models.length}.tflite`;
      writeFileSync(entry.staticBatch, withStaticBatch(flatbuffer));
    }
    out.models.push(entry);
  } catch (error) {
    out.models.push({ path, error: error.message, errorType: error.constructor.name });
  }
}

console.log(JSON.stringify(out));
