// The model input for a frame: a port of preprocess() in runtime/preprocess.py, so a frame gives
// the page the same input bytes as the Python runtime (tests/web checks them byte for byte).
// Python works on BGR frames and converts to RGB at the end; here frames are RGB from the start,
// which changes nothing: every step but the grey conversion treats the channels alike, and
// toGrey applies the BGR weights to the right channels.

import { DETAIL_TILES, detailWindows, edgeWindow, inkResponse } from './detail-windows.js';
import { makeImage, resize, RESIZE_METHODS } from './resize.js';
import { roundHalfEven } from './numeric.js';

export const VIEWS = ['frame', 'frame+detail', 'frame+detail+edge']; // runtime/preprocess.py VIEWS
export const MOSAIC_VIEWS = ['frame+detail', 'frame+detail+edge']; // runtime/preprocess.py MOSAIC_VIEWS
export const EDGE_FILL = 128; // runtime/preprocess.py EDGE_FILL
export const SEARCH_LONG_SIDE = 256; // runtime/preprocess.py SEARCH_LONG_SIDE

/** Why `view` cannot make an input of height x width, or null (runtime/preprocess.py view_problem). */
export function viewProblem(view, height, width) {
  if (!VIEWS.includes(view)) return `unknown view ${JSON.stringify(view)}; choose from ${VIEWS.join(', ')}`;
  if (MOSAIC_VIEWS.includes(view) && (height % 2 || width % 2)) {
    return `the ${view} view needs an even input size, got ${height}x${width}`;
  }
  return null;
}

/** An RGB image from canvas ImageData-like RGBA pixels (alpha dropped, as cv2 BGRA2BGR does). */
export function rgbFromRgba(width, height, rgba) {
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0, i = 0, o = 0; p < width * height; p++, i += 4, o += 3) {
    rgb[o] = rgba[i];
    rgb[o + 1] = rgba[i + 1];
    rgb[o + 2] = rgba[i + 2];
  }
  return makeImage(width, height, 3, rgb);
}

/**
 * RGB image -> Uint8Array of height * width * 3 bytes for the model, in `colorOrder`.
 * spec: {inputSize: [height, width], resize: "area" | "linear", view, colorOrder}, as the
 * model's metadata says (tflite-metadata.js).
 */
export function preprocess(image, spec) {
  const [height, width] = spec.inputSize;
  if (image.channels !== 3) throw new Error(`expected an RGB image, got ${image.channels} channels`);
  if (!RESIZE_METHODS.includes(spec.resize)) {
    throw new Error(`unknown resize method ${JSON.stringify(spec.resize)}; choose from ${RESIZE_METHODS.join(', ')}`);
  }
  const problem = viewProblem(spec.view, height, width);
  if (problem) throw new Error(problem);
  let input;
  if (MOSAIC_VIEWS.includes(spec.view)) {
    input = frameAndDetail(image, height, width, spec.resize, spec.view === 'frame+detail+edge');
  } else {
    input = image.width === width && image.height === height ? image : resize(image, width, height, spec.resize);
  }
  return spec.colorOrder === 'BGR' ? swapRedBlue(input.data) : input.data.slice();
}

/**
 * The model input seen in a mirror (runtime/preprocess.py mirror_input): the whole input left to
 * right, or with a mosaic view each of the four tiles in place. `input`: height * width * 3 bytes.
 */
export function mirrorInput(input, height, width, view) {
  const mirrored = new Uint8Array(input.length);
  const tileWidth = MOSAIC_VIEWS.includes(view) ? width / 2 : width;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const tileStart = x - (x % tileWidth);
      const from = (y * width + tileStart + tileWidth - 1 - (x - tileStart)) * 3;
      const to = (y * width + x) * 3;
      mirrored[to] = input[from];
      mirrored[to + 1] = input[from + 1];
      mirrored[to + 2] = input[from + 2];
    }
  }
  return mirrored;
}

/** The 2x2 mosaic: the whole frame top left, the three inkiest windows at detail scale; with
 * `edge`, the two inkiest and bottom right the edge tile (edgeWindow, beyond the frame EDGE_FILL). */
export function frameAndDetail(image, height, width, method, edge = false) {
  const tileH = Math.floor(height / 2);
  const tileW = Math.floor(width / 2);
  const search = shrinkLongSide(image, SEARCH_LONG_SIDE);
  const mosaic = makeImage(width, height, 3);
  // From the search copy rather than the full frame: the same box average, at a fraction of the cost.
  paste(mosaic, resize(search, tileW, tileH, method), 0, 0);
  const corners = [[0, tileW], [tileH, 0], [tileH, tileW]];
  const ink = inkResponse(search);
  const windows = detailWindows(image.height, image.width, search, tileH, tileW, edge ? DETAIL_TILES - 1 : DETAIL_TILES, ink);
  const crops = windows.map(([y, x, h, w]) => crop(image, y, x, h, w));
  if (edge) crops.push(edgeCrop(image, edgeWindow(image.height, image.width, search, tileH, tileW, ink)));
  crops.forEach((part, k) => {
    const shrinking = part.height >= tileH && part.width >= tileW;
    const tile = resize(part, tileW, tileH, shrinking ? 'area' : 'linear');
    paste(mosaic, tile, corners[k][0], corners[k][1]);
  });
  return mosaic;
}

/** edge_crop(): a window's pixels, what lies beyond the frame EDGE_FILL. */
function edgeCrop(image, [y, x, h, w]) {
  const cn = image.channels;
  const out = makeImage(w, h, cn, new Uint8Array(w * h * cn).fill(EDGE_FILL));
  const top = Math.max(0, -y);
  const left = Math.max(0, -x);
  const bottom = Math.max(0, y + h - image.height);
  const right = Math.max(0, x + w - image.width);
  const inside = (w - left - right) * cn;
  for (let r = top; r < h - bottom; r++) {
    const start = ((y + r) * image.width + x + left) * cn;
    out.data.set(image.data.subarray(start, start + inside), (r * w + left) * cn);
  }
  return out;
}

/** The image shrunk (area) so its long side is `longSide`; a smaller image as it is. */
export function shrinkLongSide(image, longSide) {
  const scale = longSide / Math.max(image.height, image.width);
  if (scale >= 1) return image;
  const width = Math.max(1, roundHalfEven(image.width * scale));
  const height = Math.max(1, roundHalfEven(image.height * scale));
  return resize(image, width, height, 'area');
}

function crop(image, y, x, h, w) {
  const cn = image.channels;
  const out = makeImage(w, h, cn);
  for (let r = 0; r < h; r++) {
    const start = ((y + r) * image.width + x) * cn;
    out.data.set(image.data.subarray(start, start + w * cn), r * w * cn);
  }
  return out;
}

function paste(target, tile, top, left) {
  const cn = target.channels;
  for (let r = 0; r < tile.height; r++) {
    target.data.set(tile.data.subarray(r * tile.width * cn, (r + 1) * tile.width * cn),
      ((top + r) * target.width + left) * cn);
  }
}

function swapRedBlue(rgb) {
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < rgb.length; i += 3) {
    out[i] = rgb[i + 2];
    out[i + 1] = rgb[i + 1];
    out[i + 2] = rgb[i];
  }
  return out;
}
