// The JSON metadata a nima-edge .tflite carries: nima_metadata.json in a small zip archive
// appended to the flatbuffer (runtime/metadata.py; byte layout in docs/capture-apps.md, section 4).
// The archive's offsets count from its own first byte, not from the start of the file, so it is
// found from the end-of-central-directory record and read from there.

import { VIEWS, viewProblem } from './preprocess.js';
import { RESIZE_METHODS } from './resize.js';

export const METADATA_ENTRY = 'nima_metadata.json'; // runtime/metadata.py METADATA_ENTRY
export const METADATA_FORMAT = 'nima-edge/1'; // runtime/metadata.py METADATA_FORMAT
export const MAX_METADATA_BYTES = 256 * 1024; // runtime/metadata.py MAX_METADATA_BYTES
export const MAX_BINS = 1000; // runtime/metadata.py MAX_BINS
export const INPUT_SIZE_RANGE = [16, 2048]; // runtime/metadata.py INPUT_SIZE_RANGE

// The fields of ModelMetadata (runtime/metadata.py) and their defaults; anything else is refused.
const DEFAULTS = Object.freeze({
  score_values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  input_size: [224, 224],
  color_order: 'RGB',
  resize: 'area',
  view: 'frame',
  threshold: 5.0,
  mirror_average: false,
  distribution_output: 'distribution',
  extra_outputs: {},
  quantization: 'float32',
  name: 'nima',
  calibration: {},
  training: {},
  fidelity: {},
  model_sha256: '',
  format: METADATA_FORMAT,
});

const EOCD_SIGNATURE = 0x06054b50; // "PK\5\6"
const LOCAL_HEADER_SIGNATURE = 0x04034b50; // "PK\3\4"
const EOCD_SIZE = 22;
const MAX_ZIP_COMMENT = 0xffff;

export class MetadataError extends Error {}

/** Where the appended archive starts, or -1 when the file has none. */
export function findArchiveStart(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lowest = Math.max(0, bytes.length - EOCD_SIZE - MAX_ZIP_COMMENT);
  for (let i = bytes.length - EOCD_SIZE; i >= lowest; i--) {
    if (view.getUint32(i, true) === EOCD_SIGNATURE) {
      const start = i - view.getUint32(i + 12, true) - view.getUint32(i + 16, true);
      return start >= 0 ? start : -1;
    }
  }
  return -1;
}

/**
 * {metadata, flatbuffer} of a .tflite's bytes; metadata is null for a bare model. A file whose
 * archive is there but unreadable, or whose flatbuffer no longer matches the SHA-256 the metadata
 * records, is refused (MetadataError), as read_metadata_bytes does: a damaged model would score
 * every frame wrongly and quietly.
 */
export async function readModelMetadata(bytes) {
  const start = findArchiveStart(bytes);
  if (start < 0) {
    if (hasArchiveTraces(bytes)) throw new MetadataError('metadata archive is damaged (the file was cut short or altered)');
    return { metadata: null, flatbuffer: bytes };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(start, true) !== LOCAL_HEADER_SIGNATURE) throw new MetadataError('metadata archive is corrupt');
  const method = view.getUint16(start + 8, true);
  const compressedSize = view.getUint32(start + 18, true);
  const size = view.getUint32(start + 22, true);
  const nameLength = view.getUint16(start + 26, true);
  const extraLength = view.getUint16(start + 28, true);
  const name = new TextDecoder().decode(bytes.subarray(start + 30, start + 30 + nameLength));
  const flatbuffer = bytes.subarray(0, start);
  if (name !== METADATA_ENTRY) return { metadata: null, flatbuffer }; // another tool's archive
  if (size > MAX_METADATA_BYTES) throw new MetadataError(`metadata entry declares ${size} bytes, over the ${MAX_METADATA_BYTES}-byte limit`);
  const dataStart = start + 30 + nameLength + extraLength;
  const body = bytes.subarray(dataStart, dataStart + compressedSize);
  let documentBytes;
  if (method === 0) documentBytes = body;
  else if (method === 8) documentBytes = await inflateRaw(body, MAX_METADATA_BYTES);
  else throw new MetadataError(`metadata archive uses compression method ${method}; expected 0 or 8 (DEFLATE)`);
  let document;
  try {
    document = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(documentBytes));
  } catch (error) {
    throw new MetadataError(`metadata is not valid JSON: ${error.message}`);
  }
  const metadata = validateMetadata(document);
  if (metadata.model_sha256 && (await sha256Hex(flatbuffer)) !== metadata.model_sha256) {
    throw new MetadataError("the model's bytes do not match the SHA-256 its metadata records: the file is damaged; re-download it");
  }
  return { metadata, flatbuffer };
}

/** The defaults filled in and every field checked, as ModelMetadata.from_dict and __post_init__. */
export function validateMetadata(document) {
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    throw new MetadataError('metadata must be a JSON object');
  }
  const unknown = Object.keys(document).filter((key) => !(key in DEFAULTS)).sort();
  if (unknown.length) throw new MetadataError(`unknown metadata keys: ${unknown.join(', ')}`);
  const m = { ...structuredClone(DEFAULTS), ...document };
  const values = m.score_values;
  if (!Array.isArray(values) || values.length < 2 || values.length > MAX_BINS) {
    throw new MetadataError(`score_values must have 2..${MAX_BINS} entries`);
  }
  if (!values.every((v) => typeof v === 'number' && Number.isFinite(v))) throw new MetadataError('score_values must be finite numbers');
  if (values.some((v, i) => i > 0 && v <= values[i - 1])) throw new MetadataError('score_values must be strictly increasing');
  const [low, high] = INPUT_SIZE_RANGE;
  if (!Array.isArray(m.input_size) || m.input_size.length !== 2
      || !m.input_size.every((s) => Number.isInteger(s) && s >= low && s <= high)) {
    throw new MetadataError(`input_size must be two integers in ${low}..${high}`);
  }
  if (!['RGB', 'BGR'].includes(m.color_order)) throw new MetadataError(`color_order must be RGB or BGR, got ${JSON.stringify(m.color_order)}`);
  if (!RESIZE_METHODS.includes(m.resize)) throw new MetadataError(`resize must be one of ${RESIZE_METHODS.join(', ')}`);
  if (!VIEWS.includes(m.view)) throw new MetadataError(`unknown view ${JSON.stringify(m.view)}`);
  const problem = viewProblem(m.view, m.input_size[0], m.input_size[1]);
  if (problem) throw new MetadataError(problem);
  if (typeof m.threshold !== 'number' || m.threshold < values[0] || m.threshold > values[values.length - 1]) {
    throw new MetadataError(`threshold ${m.threshold} lies outside the score range ${values[0]}..${values[values.length - 1]}`);
  }
  if (typeof m.mirror_average !== 'boolean') throw new MetadataError("metadata field 'mirror_average' must be true or false");
  for (const [output, labels] of Object.entries(m.extra_outputs)) {
    if (!Array.isArray(labels) || !labels.every((label) => typeof label === 'string')) {
      throw new MetadataError(`metadata field 'extra_outputs' must map each output name to a list of labels (${output})`);
    }
  }
  if (m.format !== METADATA_FORMAT) throw new MetadataError(`unknown metadata format ${JSON.stringify(m.format)}; this page reads ${METADATA_FORMAT}`);
  return m;
}

/** What preprocess() needs from the metadata (preprocess.js spec). */
export function preprocessSpec(metadata) {
  return { inputSize: metadata.input_size, resize: metadata.resize, view: metadata.view, colorOrder: metadata.color_order };
}

function hasArchiveTraces(bytes) {
  const needle = new TextEncoder().encode(METADATA_ENTRY);
  outer: for (let i = bytes.length - needle.length; i >= 0; i--) {
    for (let k = 0; k < needle.length; k++) if (bytes[i + k] !== needle[k]) continue outer;
    return true;
  }
  return false;
}

/** Raw DEFLATE (no zlib header), as zip stores it; stops one byte past `limit` (a lying size). */
async function inflateRaw(data, limit) {
  let stream;
  try {
    stream = new Blob([data]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
  } catch (error) {
    throw new MetadataError(`this browser cannot inflate the metadata (${error.message})`);
  }
  const chunks = [];
  let total = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk);
      total += chunk.length;
      if (total > limit) throw new MetadataError(`metadata is larger than the ${limit}-byte limit`);
    }
  } catch (error) {
    if (error instanceof MetadataError) throw error;
    throw new MetadataError(`metadata archive is corrupt: ${error.message}`);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) { out.set(chunk, offset); offset += chunk.length; }
  return out;
}

export async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
