// Where the frame+detail views cut their detail tiles and the edge tile: a port of
// detail_windows(), edge_window() and ink_response() in runtime/preprocess.py, with the OpenCV
// steps they use (grey conversion, a closing and a dilation with a 5x5 ellipse, an integral image)
// written out so the windows land on the same pixels.

import { roundHalfEven } from './numeric.js';

export const DETAIL_LONG_SIDE = 1024; // runtime/preprocess.py DETAIL_LONG_SIDE
export const DETAIL_TILES = 3; // runtime/preprocess.py DETAIL_TILES
export const EDGE_OUTSIDE_DIVISOR = 4; // runtime/preprocess.py EDGE_OUTSIDE_DIVISOR
export const EDGE_SIDES = ['top', 'bottom', 'left', 'right']; // runtime/preprocess.py EDGE_SIDES (tie order)
// runtime/preprocess.py PAPER_PERCENTILE, PAPER_SHARE, PAPER_CHROMA_DIVISOR, OFF_PAPER_SHIFT: the
// black-hat counts in full only where the ground is bright for the frame and grey (paperMask).
export const PAPER_PERCENTILE = 90;
export const PAPER_SHARE = [3, 4];
export const PAPER_CHROMA_DIVISOR = 3;
export const OFF_PAPER_SHIFT = 4;

// cv2.cvtColor(BGR2GRAY) for uint8 in OpenCV 5.0: 15-bit fixed point (checked on all 2^24
// colours). Our pixels are RGB, so the weights are applied in that order.
const GREY_SHIFT = 15;
const GREY_RED = 9798;
const GREY_GREEN = 19235;
const GREY_BLUE = 3735;

// cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)) is a 5x3 block (rows -1..1, columns
// -2..2) plus the two pixels straight above and below: [[0,0,1,0,0], [1,1,1,1,1] x 3, [0,0,1,0,0]].
// dilate() uses that shape directly, far cheaper than walking the kernel for every pixel.
const KERNEL_HALF_WIDTH = 2;
const KERNEL_BLOCK_HALF_HEIGHT = 1;
const KERNEL_HALF_HEIGHT = 2;

/** Grey levels (one byte a pixel) of an RGB image, as cv2.cvtColor(BGR2GRAY) on the BGR copy. */
export function toGrey(image) {
  const pixels = image.width * image.height;
  const grey = new Uint8Array(pixels);
  const data = image.data;
  const round = 1 << (GREY_SHIFT - 1);
  for (let p = 0, i = 0; p < pixels; p++, i += 3) {
    grey[p] = (data[i] * GREY_RED + data[i + 1] * GREY_GREEN + data[i + 2] * GREY_BLUE + round) >> GREY_SHIFT;
  }
  return grey;
}

/** Grey dilation (max) with the 5x5 ellipse. Pixels outside the image never count, as with
 * OpenCV's default border for morphology (dilation pads with 0). */
function dilate(grey, width, height) {
  // Along each row first: the largest value over columns x-2..x+2.
  const rows = new Uint8Array(grey.length);
  for (let y = 0; y < height; y++) {
    const start = y * width;
    for (let x = 0; x < width; x++) {
      let best = 0;
      const last = Math.min(width - 1, x + KERNEL_HALF_WIDTH);
      for (let xx = Math.max(0, x - KERNEL_HALF_WIDTH); xx <= last; xx++) {
        if (grey[start + xx] > best) best = grey[start + xx];
      }
      rows[start + x] = best;
    }
  }
  const out = new Uint8Array(grey.length);
  for (let y = 0; y < height; y++) {
    const first = Math.max(0, y - KERNEL_BLOCK_HALF_HEIGHT);
    const last = Math.min(height - 1, y + KERNEL_BLOCK_HALF_HEIGHT);
    for (let x = 0; x < width; x++) {
      let best = 0;
      for (let yy = first; yy <= last; yy++) if (rows[yy * width + x] > best) best = rows[yy * width + x];
      if (y >= KERNEL_HALF_HEIGHT && grey[(y - KERNEL_HALF_HEIGHT) * width + x] > best) {
        best = grey[(y - KERNEL_HALF_HEIGHT) * width + x];
      }
      if (y + KERNEL_HALF_HEIGHT < height && grey[(y + KERNEL_HALF_HEIGHT) * width + x] > best) {
        best = grey[(y + KERNEL_HALF_HEIGHT) * width + x];
      }
      out[y * width + x] = best;
    }
  }
  return out;
}

/** Grey erosion (min) with the same kernel: the dilation of the negative (erosion pads with 255,
 * which the negative turns into dilation's 0). */
function erode(grey, width, height) {
  const negative = grey.map((v) => 255 - v);
  return dilate(negative, width, height).map((v) => 255 - v);
}

/** cv2.morphologyEx(grey, MORPH_CLOSE, ellipse 5x5): the ground under thin dark strokes. */
function closing(grey, width, height) {
  return erode(dilate(grey, width, height), width, height);
}

/** cv2.morphologyEx(grey, MORPH_BLACKHAT, ellipse 5x5): closing minus the image. Dark strokes
 * thinner than the kernel on a lighter ground stand out: ink on paper. */
export function blackHat(grey, width, height, closed = closing(grey, width, height)) {
  const ink = new Uint8Array(grey.length);
  for (let i = 0; i < grey.length; i++) ink[i] = closed[i] - grey[i]; // closing >= image
  return ink;
}

/** paper_mask(): 1 where the ground looks like paper, bright for this frame (the closing at least
 * PAPER_SHARE of its PAPER_PERCENTILE level) and grey (each channel's 5x5 dilation: the largest at
 * least PAPER_CHROMA_DIVISOR times the spread between them). */
export function paperMask(search, closed) {
  const pixels = search.width * search.height;
  const counts = new Float64Array(256);
  for (let i = 0; i < pixels; i++) counts[closed[i]] += 1;
  // The paper level: the smallest value that PAPER_PERCENTILE percent of the pixels do not exceed.
  let level = 0;
  for (let total = counts[0]; total * 100 < PAPER_PERCENTILE * pixels; total += counts[level]) level += 1;
  const [numerator, denominator] = PAPER_SHARE;
  const grounds = [0, 1, 2].map((c) => {
    const channel = new Uint8Array(pixels);
    for (let p = 0; p < pixels; p++) channel[p] = search.data[p * 3 + c];
    return dilate(channel, search.width, search.height);
  });
  const mask = new Uint8Array(pixels);
  for (let p = 0; p < pixels; p++) {
    const top = Math.max(grounds[0][p], grounds[1][p], grounds[2][p]);
    const spread = top - Math.min(grounds[0][p], grounds[1][p], grounds[2][p]);
    mask[p] = closed[p] * denominator >= level * numerator && spread * PAPER_CHROMA_DIVISOR <= top ? 1 : 0;
  }
  return mask;
}

/** cv2.integral: (height + 1) x (width + 1) running sums, exact in doubles for these sizes. */
function integral(values, width, height) {
  const stride = width + 1;
  const sums = new Float64Array((height + 1) * stride);
  for (let y = 0; y < height; y++) {
    let rowSum = 0;
    for (let x = 0; x < width; x++) {
      rowSum += values[y * width + x];
      sums[(y + 1) * stride + x + 1] = sums[y * stride + x + 1] + rowSum;
    }
  }
  return sums;
}

/** ink_response(): where the tiles go, the search copy's black-hat, in full on paper and
 * 1 / 2**OFF_PAPER_SHIFT of it elsewhere. */
export function inkResponse(search) {
  const grey = toGrey(search);
  const closed = closing(grey, search.width, search.height);
  const ink = blackHat(grey, search.width, search.height, closed);
  const onPaper = paperMask(search, closed);
  for (let i = 0; i < ink.length; i++) if (!onPaper[i]) ink[i] >>= OFF_PAPER_SHIFT;
  return ink;
}

/** A tile's size at DETAIL_LONG_SIDE scale in frame pixels (_window_size), never more than the frame. */
function windowSize(frameHeight, frameWidth, tileHeight, tileWidth) {
  const scale = Math.max(frameHeight, frameWidth) / DETAIL_LONG_SIDE; // frame pixels per detail pixel
  return [Math.max(1, Math.min(frameHeight, roundHalfEven(tileHeight * scale))),
    Math.max(1, Math.min(frameWidth, roundHalfEven(tileWidth * scale)))];
}

/**
 * [y, x, height, width] in frame pixels of the `count` detail windows, strongest first.
 * frameHeight/frameWidth: the full frame; search: its small RGB copy (shrinkLongSide).
 * tileHeight/tileWidth: a mosaic tile. Same greedy choice as the Python: the box with the most
 * ink (inkResponse), then the best box not overlapping those taken, and so on.
 */
export function detailWindows(frameHeight, frameWidth, search, tileHeight, tileWidth, count = DETAIL_TILES,
  ink = inkResponse(search)) {
  const [winH, winW] = windowSize(frameHeight, frameWidth, tileHeight, tileWidth);
  const toSearch = search.height / frameHeight;
  const boxH = Math.max(1, Math.min(search.height, roundHalfEven(winH * toSearch)));
  const boxW = Math.max(1, Math.min(search.width, roundHalfEven(winW * toSearch)));
  const sums = integral(ink, search.width, search.height);
  const stride = search.width + 1;
  const rows = search.height - boxH + 1;
  const cols = search.width - boxW + 1;
  // strength[i * cols + j]: the ink summed over the box whose top-left corner is (i, j).
  const strength = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      strength[i * cols + j] = sums[(i + boxH) * stride + j + boxW] - sums[i * stride + j + boxW]
        - sums[(i + boxH) * stride + j] + sums[i * stride + j];
    }
  }
  const free = new Uint8Array(rows * cols).fill(1);
  const taken = new Uint8Array(rows * cols);
  const windows = [];
  for (let n = 0; n < count; n++) {
    let best = strongest(strength, free, 1);
    if (best < 0) { // no room left apart: overlapping beats repeating one
      best = taken.every((t) => t === 1) ? strongest(strength, null, 0) : strongest(strength, taken, 0);
    }
    const i = Math.floor(best / cols);
    const j = best % cols;
    for (let r = Math.max(0, i - boxH + 1); r < Math.min(rows, i + boxH); r++) {
      free.fill(0, r * cols + Math.max(0, j - boxW + 1), r * cols + Math.min(cols, j + boxW));
    }
    taken[best] = 1;
    const y = Math.min(Math.max(0, roundHalfEven(i / toSearch)), frameHeight - winH);
    const x = Math.min(Math.max(0, roundHalfEven(j / toSearch)), frameWidth - winW);
    windows.push([y, x, winH, winW]);
  }
  return windows;
}

/** Index of the first largest strength (np.argmax order) where mask[k] === wanted, every index
 * when mask is null; -1 when none qualifies. */
function strongest(strength, mask, wanted) {
  let best = -1;
  let bestValue = -Infinity;
  for (let k = 0; k < strength.length; k++) {
    if ((mask === null || mask[k] === wanted) && strength[k] > bestValue) {
      bestValue = strength[k];
      best = k;
    }
  }
  return best;
}

/**
 * [y, x, height, width] in frame pixels of the edge tile's window (edge_window()), which reaches
 * a quarter of its depth beyond one side of the frame: y or x negative for the top or left, past
 * the frame for the bottom or right. The side and place: the strip along the border, that quarter
 * deep, with the most ink per search pixel; ties to the first side, then the first place.
 */
export function edgeWindow(frameHeight, frameWidth, search, tileHeight, tileWidth, ink = inkResponse(search)) {
  const [winH, winW] = windowSize(frameHeight, frameWidth, tileHeight, tileWidth);
  const searchH = search.height;
  const searchW = search.width;
  const toSearch = searchH / frameHeight;
  const sums = integral(ink, searchW, searchH);
  const stride = searchW + 1;
  let best = null;
  for (const side of EDGE_SIDES) {
    const horizontal = side === 'top' || side === 'bottom';
    const [along, deep] = horizontal ? [winW, winH] : [winH, winW];
    const [span, across] = horizontal ? [searchW, searchH] : [searchH, searchW];
    const box = Math.max(1, Math.min(span, roundHalfEven(along * toSearch)));
    const depth = Math.max(1, Math.min(across, Math.floor(roundHalfEven(deep * toSearch) / EDGE_OUTSIDE_DIVISOR)));
    const [near, far] = side === 'top' || side === 'left' ? [0, depth] : [across - depth, across];
    // at(a, b): the integral at row a, column b of the strip's frame of reference.
    const at = horizontal ? (row, col) => sums[row * stride + col] : (col, row) => sums[row * stride + col];
    let place = 0;
    let most = -Infinity;
    for (let k = 0; k + box <= span; k++) {
      const value = at(far, k + box) - at(far, k) - at(near, k + box) + at(near, k);
      if (value > most) {
        most = value;
        place = k;
      }
    }
    const strength = most / (box * depth);
    if (best === null || strength > best.strength) best = { strength, side, place };
  }
  const { side, place } = best;
  if (side === 'top' || side === 'bottom') {
    const outside = Math.floor(winH / EDGE_OUTSIDE_DIVISOR);
    const x = Math.min(Math.max(0, roundHalfEven(place / toSearch)), frameWidth - winW);
    return [side === 'top' ? -outside : frameHeight - winH + outside, x, winH, winW];
  }
  const outside = Math.floor(winW / EDGE_OUTSIDE_DIVISOR);
  const y = Math.min(Math.max(0, roundHalfEven(place / toSearch)), frameHeight - winH);
  return [y, side === 'left' ? -outside : frameWidth - winW + outside, winH, winW];
}
