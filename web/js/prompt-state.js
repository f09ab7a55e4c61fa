// The live prompt's state: a port of PromptState in runtime/watch.py, with WatchConfig's defaults.
// The raw per-frame score jitters; the prompt must not. The score is smoothed with an exponential
// moving average, the state flips from "retake" to "ok" only above threshold + hysteresis and
// back only below threshold - hysteresis, and after readyFrames frames in a row in the good
// state the capture is "ready".

export const WATCH_DEFAULTS = Object.freeze({
  alpha: 0.35, // WatchConfig.alpha: EMA weight of the newest frame
  hysteresis: 0.25, // WatchConfig.hysteresis: score units either side of the threshold
  readyFrames: 8, // WatchConfig.ready_frames
});
export const HEADLINES = Object.freeze({ retake: 'RETAKE', ok: 'HOLD STILL', ready: 'READY' }); // runtime/watch.py HEADLINES

export class PromptState {
  constructor(threshold, config = WATCH_DEFAULTS) {
    if (!(config.alpha > 0 && config.alpha <= 1)) throw new Error(`alpha must be in (0, 1], got ${config.alpha}`);
    if (!(config.readyFrames >= 1)) throw new Error('readyFrames must be >= 1');
    this.threshold = threshold;
    this.config = config;
    this.ema = null;
    this.state = null;
    this.goodRun = 0;
  }

  /** Feed one frame's score; returns the new state when it changed, else null. */
  update(score) {
    const { alpha, hysteresis, readyFrames } = this.config;
    this.ema = this.ema === null ? score : alpha * score + (1 - alpha) * this.ema;
    let good = this.state === 'ok' || this.state === 'ready';
    if (this.state === null) good = this.ema >= this.threshold;
    else if (good && this.ema < this.threshold - hysteresis) good = false;
    else if (!good && this.ema >= this.threshold + hysteresis) good = true;
    this.goodRun = good ? this.goodRun + 1 : 0;
    const state = good ? (this.goodRun >= readyFrames ? 'ready' : 'ok') : 'retake';
    const changed = state !== this.state;
    this.state = state;
    return changed ? state : null;
  }
}
