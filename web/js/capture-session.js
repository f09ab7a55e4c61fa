// The live loop of the page: a port of the frame-by-frame part of watch() in runtime/watch.py.
// Each frame is prepared, scored and judged; the prompt state is updated; the best frame of the
// current good run is kept, and when the state turns "ready" that frame is captured. No DOM here:
// the page (app.js) feeds frames and draws what this returns.

import { decide, retakeReasons } from './policy.js';
import { preprocess, rgbFromRgba } from './preprocess.js';
import { PromptState, WATCH_DEFAULTS } from './prompt-state.js';

export const MIN_SIDE = 32; // runtime/policy.py MIN_SIDE: below this there is no document to judge

export class CaptureSession {
  /** scorer: scorer.js Scorer; threshold: the model's own unless given (like --threshold). */
  constructor(scorer, { threshold = scorer.metadata.threshold, watch = WATCH_DEFAULTS, onEvent = () => {} } = {}) {
    this.scorer = scorer;
    this.threshold = threshold;
    this.watch = watch;
    this.onEvent = onEvent;
    this.reset();
  }

  /** Start over, as a reopened `nima watch` does: no smoothing history, no best frame. */
  reset() {
    this.state = new PromptState(this.threshold, this.watch);
    this.best = null; // {mean, frame}
    this.frames = 0;
  }

  /** Judge one frame ({width, height, rgba}); returns {assessment, state, ema, changed, captured, ms}. */
  async assessFrame(frame) {
    const { width, height } = frame;
    if (Math.min(width, height) < MIN_SIDE) {
      throw new Error(`image is ${width}x${height} px, too small to judge (at least ${MIN_SIDE} px a side)`);
    }
    const t0 = performance.now();
    const modelInput = preprocess(rgbFromRgba(width, height, frame.rgba), this.scorer.spec);
    const t1 = performance.now();
    const score = await this.scorer.scoreInput(modelInput);
    const t2 = performance.now();
    const assessment = decide(score, this.scorer.values, this.threshold);
    return { assessment, score, ms: { preprocess: t1 - t0, model: t2 - t1 } };
  }

  /** One frame of the live loop; null when the session was reset while the frame was scored
   * (its verdict belongs to the run that ended). */
  async processFrame(frame) {
    const run = this.state;
    const { assessment, score, ms } = await this.assessFrame(frame);
    if (run !== this.state) return null;
    this.frames += 1;
    const changed = this.state.update(assessment.mean);
    if (this.state.state === 'retake') this.best = null;
    else if (this.best === null || assessment.mean > this.best.mean) this.best = { mean: assessment.mean, frame };
    let captured = null;
    if (changed) {
      this.onEvent({ event: 'state', state: changed, frame: this.frames, mean: round4(this.state.ema),
        reasons: changed === 'retake' ? retakeReasons(assessment) : [] });
      if (changed === 'ready' && this.best !== null) {
        captured = this.best;
        this.onEvent({ event: 'captured', frame: this.frames, mean: round4(captured.mean) });
      }
    }
    return { assessment, score, state: this.state.state, ema: this.state.ema, changed, captured, ms };
  }
}

function round4(value) {
  return Math.round(value * 1e4) / 1e4;
}
