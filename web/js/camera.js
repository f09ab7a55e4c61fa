// Where frames come from: the rear camera (getUserMedia) or, as a fallback, a chosen photo file.
// Frames are {width, height, rgba}: canvas pixels, which never leave the page here.

// Ask for a sharp rear-camera stream; "ideal" so any camera still opens, at whatever size it has.
const CAMERA_CONSTRAINTS = Object.freeze({
  audio: false,
  video: { facingMode: { ideal: 'environment' }, width: { ideal: 1920 }, height: { ideal: 1080 } },
});

export function cameraAvailable() {
  return Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
}

/** Open the rear camera into `video`; returns the MediaStream. */
export async function openCamera(video) {
  const stream = await navigator.mediaDevices.getUserMedia(CAMERA_CONSTRAINTS);
  video.srcObject = stream;
  video.muted = true;
  video.playsInline = true;
  await video.play();
  return stream;
}

export function closeCamera(stream) {
  for (const track of stream?.getTracks() ?? []) track.stop();
}

/** Resolves when the video shows a frame it has not shown before (one judgement per frame). */
export function nextVideoFrame(video) {
  return new Promise((resolve) => {
    if (typeof video.requestVideoFrameCallback === 'function') video.requestVideoFrameCallback(() => resolve());
    else requestAnimationFrame(() => resolve());
  });
}

/** The video's current frame at its full resolution. */
export function grabVideoFrame(video, canvas) {
  const width = video.videoWidth;
  const height = video.videoHeight;
  return drawToFrame(canvas, width, height, (context) => context.drawImage(video, 0, 0, width, height));
}

/** Decode a photo file, upright (EXIF orientation applied, as the Python runtime's load_image). */
export async function decodeImageFile(file, canvas) {
  const bitmap = await createImageBitmap(file, {
    imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'none',
  });
  try {
    return drawToFrame(canvas, bitmap.width, bitmap.height, (context) => context.drawImage(bitmap, 0, 0));
  } finally {
    bitmap.close();
  }
}

function drawToFrame(canvas, width, height, draw) {
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d', { willReadFrequently: true });
  draw(context);
  return { width, height, rgba: context.getImageData(0, 0, width, height).data };
}

/** A frame as a JPEG (or PNG) blob, for the photo the person accepts. */
export function encodeFrame(frame, canvas, type = 'image/jpeg', quality = 0.95) {
  canvas.width = frame.width;
  canvas.height = frame.height;
  const context = canvas.getContext('2d');
  context.putImageData(new ImageData(new Uint8ClampedArray(frame.rgba), frame.width, frame.height), 0, 0);
  return new Promise((resolve, reject) => canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('cannot encode the photo'))), type, quality));
}
