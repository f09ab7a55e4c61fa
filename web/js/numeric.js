// Rounding rules of the Python and OpenCV code this page ports. JavaScript's Math.round rounds
// halves up; the ports need the exact rule of each source or an input byte comes out different.

/** Python's round(): halves go to the even neighbour (round(12.5) == 12). */
export function roundHalfEven(value) {
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** OpenCV's saturate_cast<uchar>(float): cvRound (round half to even, as SSE's cvtss2si) and clip to 0..255. */
export function saturateUint8(value) {
  const rounded = roundHalfEven(value);
  return rounded < 0 ? 0 : rounded > 255 ? 255 : rounded;
}

/** OpenCV's saturate_cast<short>(float). */
export function saturateInt16(value) {
  const rounded = roundHalfEven(value);
  return rounded < -32768 ? -32768 : rounded > 32767 ? 32767 : rounded;
}

export const f32 = Math.fround;
