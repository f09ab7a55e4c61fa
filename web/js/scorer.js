// Scoring model inputs with the nima-edge .tflite in LiteRT.js: a port of runtime/scorer.py
// (Scorer.run / score_input, mean_std). Everything runs on the device: the model file is the
// only thing fetched, and no frame is sent anywhere.

import { loadAndCompile, loadLiteRt, Tensor } from '@litertjs/core';
import { meanStd, numpySum } from './distribution.js';
import { mirrorInput } from './preprocess.js';
import { ioQuantization, withStaticBatch } from './tflite-flatbuffer.js';
import { MetadataError, preprocessSpec, readModelMetadata, validateMetadata } from './tflite-metadata.js';

// LiteRT.js picks its CPU build (relaxed SIMD or not) from this folder, served with the page.
export const DEFAULT_WASM_PATH = new URL('../node_modules/@litertjs/core/wasm/', import.meta.url).href;
// runtime/scorer.py score_input: an output this far below zero is not a probability distribution.
const NEGATIVE_SLACK = 1e-3;

export class ModelError extends Error {}

let liteRtLoading = null;

/** Start LiteRT.js once per page (it refuses a second load). */
function ensureLiteRt(wasmPath) {
  liteRtLoading ??= loadLiteRt(wasmPath);
  return liteRtLoading;
}

/**
 * Fetch, check and compile the model. Returns a Scorer. `modelUrl` is fetched once; its embedded
 * metadata (tflite-metadata.js) says how frames are prepared and how scores read.
 */
export async function loadScorer(modelUrl, { wasmPath = DEFAULT_WASM_PATH, threads = 1 } = {}) {
  const response = await fetch(modelUrl);
  if (!response.ok) throw new ModelError(`${modelUrl}: HTTP ${response.status}; is the model copied next to the page (make web)?`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  let { metadata, flatbuffer } = await readModelMetadata(bytes);
  if (metadata === null) {
    console.warn(`${modelUrl} has no nima-edge metadata; assuming scores 1..10, RGB input, threshold 5`);
    metadata = validateMetadata({});
  }
  await ensureLiteRt(wasmPath);
  // One thread: a cross-origin-isolated page would be needed for more, and a phone stays cooler.
  const model = await loadAndCompile(withStaticBatch(flatbuffer), { accelerator: 'wasm', cpuOptions: { numThreads: threads } });
  return new Scorer(model, metadata, ioQuantization(flatbuffer), modelUrl, bytes.length);
}

export class Scorer {
  constructor(model, metadata, quantization, name, sizeBytes) {
    this.model = model;
    this.metadata = metadata;
    this.spec = preprocessSpec(metadata);
    this.name = name;
    this.sizeBytes = sizeBytes;
    this.values = metadata.score_values;
    const inputs = model.getInputDetails();
    if (inputs.length !== 1) throw new ModelError(`${name}: a NIMA has one input, this model has ${inputs.length}`);
    const [height, width] = metadata.input_size;
    const shape = Array.from(inputs[0].shape);
    if (shape.length !== 4 || shape[0] !== 1 || shape[1] !== height || shape[2] !== width || shape[3] !== 3) {
      throw new ModelError(`${name}: metadata says input ${height}x${width}, the model takes ${shape.join('x')}`);
    }
    this.inputDtype = inputs[0].dtype;
    if (!['uint8', 'float32'].includes(this.inputDtype)) {
      throw new ModelError(`${name}: input type ${this.inputDtype} is not supported by LiteRT.js (uint8 or float32)`);
    }
    this.outputs = this.mapOutputs(model.getOutputDetails(), quantization.outputs);
  }

  /** Output name -> {position, dequantize}; the distribution under the metadata's name, the extra
   * heads by name, or by shape when the converter did not keep the names (as scorer.py). */
  mapOutputs(details, quantized) {
    const bins = this.metadata.score_values.length;
    const shapeIs = (d, n) => d.shape.length === 2 && d.shape[0] === 1 && d.shape[1] === n;
    const chosen = new Map();
    const wanted = this.metadata.distribution_output;
    let distribution = details.findIndex((d) => d.name === wanted);
    if (distribution < 0) {
      const candidates = details.map((d, i) => (shapeIs(d, bins) ? i : -1)).filter((i) => i >= 0);
      if (candidates.length !== 1) {
        throw new ModelError(`${this.name}: cannot tell which output is the score distribution (${candidates.length} of shape [1, ${bins}])`);
      }
      [distribution] = candidates;
    }
    if (!shapeIs(details[distribution], bins)) throw new ModelError(`${this.name}: distribution output has shape ${details[distribution].shape}, expected [1, ${bins}]`);
    chosen.set(wanted, distribution);
    for (const [head, labels] of Object.entries(this.metadata.extra_outputs)) {
      const used = new Set(chosen.values());
      let index = details.findIndex((d) => d.name === head);
      if (index < 0 || used.has(index)) {
        const match = details.map((d, i) => (shapeIs(d, labels.length) && !used.has(i) ? i : -1)).filter((i) => i >= 0);
        index = match.length === 1 ? match[0] : -1; // ambiguous or absent: no reasons from it
      }
      if (index >= 0) chosen.set(head, index);
    }
    // LiteRT.js lists the signature outputs in the order of the subgraph's outputs, which is the
    // order ioQuantization reads them in.
    return new Map([...chosen].map(([head, i]) => [head, { position: i, dequantize: dequantizer(quantized[i]) }]));
  }

  /** Dequantized outputs by name for one model input (H*W*3 bytes, the model's colour order). */
  async run(modelInput) {
    const [height, width] = this.metadata.input_size;
    const data = this.inputDtype === 'uint8' ? modelInput : Float32Array.from(modelInput);
    const input = new Tensor(data, [1, height, width, 3]);
    let results;
    try {
      results = await this.model.run([input]);
    } finally {
      input.delete();
    }
    const outputs = {};
    try {
      for (const [head, { position, dequantize }] of this.outputs) {
        outputs[head] = dequantize(results[position].toTypedArray());
      }
    } finally {
      for (const tensor of results) tensor.delete();
    }
    return outputs;
  }

  /** The outputs a score is read from (Scorer.score_outputs): one run, or with the metadata's
   * mirror_average the mean of the runs on the input and on its mirror, head by head. */
  async scoreOutputs(modelInput) {
    const outputs = await this.run(modelInput);
    if (!this.metadata.mirror_average) return outputs;
    const [height, width] = this.metadata.input_size;
    const mirrored = await this.run(mirrorInput(modelInput, height, width, this.metadata.view));
    return Object.fromEntries(Object.entries(outputs).map(
      ([head, values]) => [head, Float32Array.from(values, (v, i) => (v + mirrored[head][i]) / 2)]));
  }

  /** {distribution (Float32Array), mean, std, extras: {head: {label: value}}}, as score_input. */
  async scoreInput(modelInput) {
    const outputs = await this.scoreOutputs(modelInput);
    const raw = Array.from(outputs[this.metadata.distribution_output]);
    const total = numpySum(raw);
    if (!raw.every(Number.isFinite) || Math.min(...raw) < -NEGATIVE_SLACK || total <= 0) {
      throw new ModelError(`${this.name}: the ${this.metadata.distribution_output} output is not a probability distribution; the model is damaged or not a NIMA`);
    }
    const clipped = raw.map((p) => Math.max(p, 0));
    const sum = numpySum(clipped);
    const distribution = Float32Array.from(clipped, (p) => p / sum);
    const { mean, std } = meanStd(Array.from(clipped, (p) => p / sum), this.values);
    const extras = {};
    for (const [head, labels] of Object.entries(this.metadata.extra_outputs)) {
      if (!(head in outputs)) continue;
      const values = outputs[head];
      extras[head] = Object.fromEntries(labels.slice(0, values.length).map((label, i) => [label, values[i]]));
    }
    return { distribution, mean, std, extras };
  }

  delete() { this.model.delete(); }
}

/** runtime/interpreter.py dequantize: scale * (q - zero point); float outputs as they are. */
function dequantizer({ dtype, scale, zeroPoint }) {
  if (dtype === 'float32' || scale === 0) return (values) => Float32Array.from(values);
  if (dtype !== 'uint8') throw new MetadataError(`output type ${dtype} is not supported by LiteRT.js`);
  return (values) => Float32Array.from(values, (q) => scale * (q - zeroPoint));
}
