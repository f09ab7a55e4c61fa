// cv2.resize for uint8 images, ported so that a frame gives the same bytes as in the Python
// runtime (runtime/preprocess.py calls cv2.resize with INTER_AREA and INTER_LINEAR).
//
// The ports follow OpenCV's imgproc/src/resize.cpp (4.x/5.x), including its arithmetic: the
// area weights are float32 and accumulate in float32 in the same order; the bilinear path is
// fixed point with 11-bit coefficients and the rows' SIMD rounding. Checked byte for byte against
// opencv-python 5.0 on random and smooth images of many sizes (tests/web). An image is
// {width, height, channels, data: Uint8Array}, pixels interleaved, rows unpadded.

import { f32, roundHalfEven, saturateInt16, saturateUint8 } from './numeric.js';

export const RESIZE_METHODS = ['area', 'linear']; // runtime/preprocess.py RESIZE_METHODS

const COEF_BITS = 11; // INTER_RESIZE_COEF_BITS
const COEF_SCALE = 1 << COEF_BITS; // INTER_RESIZE_COEF_SCALE
const DBL_EPSILON = 2.220446049250313e-16;

export function makeImage(width, height, channels, data = new Uint8Array(width * height * channels)) {
  return { width, height, channels, data };
}

/** cv2.resize(src, (width, height), interpolation) for method "area" or "linear". */
export function resize(src, width, height, method) {
  if (!RESIZE_METHODS.includes(method)) {
    throw new Error(`unknown resize method ${JSON.stringify(method)}; choose from ${RESIZE_METHODS.join(', ')}`);
  }
  if (width === src.width && height === src.height) {
    return makeImage(width, height, src.channels, src.data.slice()); // cv::resize copies a same-size image
  }
  const invScaleX = width / src.width;
  const invScaleY = height / src.height;
  const scaleX = 1 / invScaleX;
  const scaleY = 1 / invScaleY;
  const intScaleX = roundHalfEven(scaleX);
  const intScaleY = roundHalfEven(scaleY);
  const isAreaFast = Math.abs(scaleX - intScaleX) < DBL_EPSILON && Math.abs(scaleY - intScaleY) < DBL_EPSILON;
  let interpolation = method;
  // OpenCV: a bilinear halving is the same as the 2x2 box average, and takes that path.
  if (interpolation === 'linear' && isAreaFast && intScaleX === 2 && intScaleY === 2) interpolation = 'area';
  if (interpolation === 'area' && scaleX >= 1 && scaleY >= 1) {
    return isAreaFast ? resizeAreaFast(src, width, height, intScaleX, intScaleY)
      : resizeArea(src, width, height, scaleX, scaleY);
  }
  // Area "interpolation" that enlarges in either direction is emulated with bilinear weights.
  return resizeLinear(src, width, height, scaleX, scaleY, invScaleX, invScaleY, interpolation === 'area');
}

// ---- INTER_AREA, integer factors (resizeAreaFast_) -------------------------------------------

function resizeAreaFast(src, width, height, factorX, factorY) {
  const cn = src.channels;
  const dst = makeImage(width, height, cn);
  const srcRow = src.width * cn;
  const area = factorX * factorY;
  const scale = f32(1 / area);
  const halving = factorX === 2 && factorY === 2;
  for (let dy = 0; dy < height; dy++) {
    const top = dy * factorY;
    for (let dx = 0; dx < width; dx++) {
      for (let c = 0; c < cn; c++) {
        let sum = 0;
        for (let sy = 0; sy < factorY; sy++) {
          const base = (top + sy) * srcRow + dx * factorX * cn + c;
          for (let sx = 0; sx < factorX; sx++) sum += src.data[base + sx * cn];
        }
        // The 2x2 case has its own integer kernel that rounds halves up; the others multiply by
        // a float 1/area and round half to even.
        dst.data[(dy * width + dx) * cn + c] = halving ? (sum + 2) >> 2 : saturateUint8(f32(sum * scale));
      }
    }
  }
  return dst;
}

// ---- INTER_AREA, fractional factors (resizeArea_) --------------------------------------------

/** computeResizeAreaTab: for each weight its destination index, source index and float32
 * weight, in OpenCV's order (the order of the float sums matters for the last bit). */
function areaTable(sourceSize, destSize, cn, scale) {
  const dest = [];
  const source = [];
  const weight = [];
  const add = (d, s, w) => { dest.push(d * cn); source.push(s * cn); weight.push(f32(w)); };
  for (let dx = 0; dx < destSize; dx++) {
    const fsx1 = dx * scale;
    const fsx2 = fsx1 + scale;
    const cellWidth = Math.min(scale, sourceSize - fsx1);
    let sx1 = Math.ceil(fsx1);
    let sx2 = Math.floor(fsx2);
    sx2 = Math.min(sx2, sourceSize - 1);
    sx1 = Math.min(sx1, sx2);
    if (sx1 - fsx1 > 1e-3) add(dx, sx1 - 1, (sx1 - fsx1) / cellWidth);
    for (let sx = sx1; sx < sx2; sx++) add(dx, sx, 1.0 / cellWidth);
    if (fsx2 - sx2 > 1e-3) add(dx, sx2, Math.min(Math.min(fsx2 - sx2, 1), cellWidth) / cellWidth);
  }
  return { dest: Int32Array.from(dest), source: Int32Array.from(source), weight: Float32Array.from(weight) };
}

function resizeArea(src, width, height, scaleX, scaleY) {
  const cn = src.channels;
  const dst = makeImage(width, height, cn);
  const x = areaTable(src.width, width, cn, scaleX);
  const y = areaTable(src.height, height, 1, scaleY);
  const rowLength = width * cn;
  const buf = new Float32Array(rowLength);
  const sum = new Float32Array(rowLength);
  const data = src.data;
  const flush = (dy) => {
    const offset = dy * rowLength;
    for (let i = 0; i < rowLength; i++) dst.data[offset + i] = saturateUint8(sum[i]);
  };
  let previousDy = y.dest[0];
  for (let j = 0; j < y.dest.length; j++) {
    const dy = y.dest[j];
    const beta = y.weight[j];
    const rowStart = y.source[j] * src.width * cn;
    buf.fill(0);
    for (let k = 0; k < x.dest.length; k++) {
      const di = x.dest[k];
      const si = rowStart + x.source[k];
      const alpha = x.weight[k];
      if (cn === 3) { // the frame's case, unrolled: this loop is most of a frame's preprocessing
        buf[di] = f32(buf[di] + f32(data[si] * alpha));
        buf[di + 1] = f32(buf[di + 1] + f32(data[si + 1] * alpha));
        buf[di + 2] = f32(buf[di + 2] + f32(data[si + 2] * alpha));
      } else {
        for (let c = 0; c < cn; c++) buf[di + c] = f32(buf[di + c] + f32(data[si + c] * alpha));
      }
    }
    if (dy !== previousDy) {
      flush(previousDy);
      for (let i = 0; i < rowLength; i++) sum[i] = f32(beta * buf[i]);
      previousDy = dy;
    } else {
      for (let i = 0; i < rowLength; i++) sum[i] = f32(sum[i] + f32(beta * buf[i]));
    }
  }
  flush(previousDy);
  return dst;
}

// ---- INTER_LINEAR (resizeGeneric_ with HResizeLinear / VResizeLinear, fixed point) ------------

/** Source index and the two fixed-point weights for each destination index along one axis. */
function linearAxis(sourceSize, destSize, scale, invScale, areaMode, clampLow) {
  const offsets = new Int32Array(destSize);
  const weights = new Int16Array(destSize * 2);
  let limit = destSize; // first index whose right/bottom neighbour is outside (xmax)
  for (let d = 0; d < destSize; d++) {
    let s;
    let frac;
    if (!areaMode) {
      frac = f32((d + 0.5) * scale - 0.5);
      s = Math.floor(frac);
      frac = f32(frac - s);
    } else {
      s = Math.floor(d * scale);
      frac = f32((d + 1) - (s + 1) * invScale);
      frac = frac <= 0 ? 0 : f32(frac - Math.floor(frac));
    }
    if (clampLow) { // the horizontal pass clamps both ends; the vertical one clamps rows later
      if (s < 0) { frac = 0; s = 0; }
      if (s + 1 >= sourceSize) {
        limit = Math.min(limit, d);
        if (s >= sourceSize - 1) { frac = 0; s = sourceSize - 1; }
      }
    }
    offsets[d] = s;
    weights[2 * d] = saturateInt16(f32(f32(1 - frac) * COEF_SCALE));
    weights[2 * d + 1] = saturateInt16(f32(frac * COEF_SCALE));
  }
  return { offsets, weights, limit };
}

function horizontalPass(src, row, x, out) {
  const cn = src.channels;
  const start = row * src.width * cn;
  const data = src.data;
  for (let dx = 0; dx < x.offsets.length; dx++) {
    const sx = x.offsets[dx] * cn;
    const a0 = x.weights[2 * dx];
    const a1 = x.weights[2 * dx + 1];
    for (let c = 0; c < cn; c++) {
      out[dx * cn + c] = dx < x.limit
        ? data[start + sx + c] * a0 + data[start + sx + cn + c] * a1
        : data[start + sx + c] * COEF_SCALE;
    }
  }
}

function verticalPass(upper, lower, b0, b1, dst, offset) {
  for (let i = 0; i < upper.length; i++) {
    // VResizeLinearVec_32s8u: v_mul_hi on (S >> 4) as int16, then a rounding shift by 2. OpenCV
    // 5.0 applies it to the whole row; the exact (S0*b0 + S1*b1 + 2^21) >> 22 differs by one
    // level now and then, and 4.x used it for the bytes after the last whole vector.
    const value = (((((upper[i] >> 4) * b0) >> 16) + (((lower[i] >> 4) * b1) >> 16)) + 2) >> 2;
    dst.data[offset + i] = value < 0 ? 0 : value > 255 ? 255 : value;
  }
}

function resizeLinear(src, width, height, scaleX, scaleY, invScaleX, invScaleY, areaMode) {
  const cn = src.channels;
  const dst = makeImage(width, height, cn);
  const x = linearAxis(src.width, width, scaleX, invScaleX, areaMode, true);
  const y = linearAxis(src.height, height, scaleY, invScaleY, areaMode, false);
  const rowLength = width * cn;
  const upper = new Int32Array(rowLength);
  const lower = new Int32Array(rowLength);
  const clampRow = (r) => (r < 0 ? 0 : r >= src.height ? src.height - 1 : r);
  let upperRow = -1;
  let lowerRow = -1;
  for (let dy = 0; dy < height; dy++) {
    const r0 = clampRow(y.offsets[dy]);
    const r1 = clampRow(y.offsets[dy] + 1);
    if (r0 !== upperRow) {
      if (r0 === lowerRow) upper.set(lower); else horizontalPass(src, r0, x, upper);
      upperRow = r0;
    }
    if (r1 !== lowerRow) { horizontalPass(src, r1, x, lower); lowerRow = r1; }
    verticalPass(upper, lower, y.weights[2 * dy], y.weights[2 * dy + 1], dst, dy * rowLength);
  }
  return dst;
}
