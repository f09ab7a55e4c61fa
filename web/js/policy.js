// The retake decision the page can make on its own: runtime/policy.py decide() and rank_causes()
// for a frame without the native-resolution checks (what `nima score --no-checks` and
// `nima watch --no-checks` decide). The checks that are not ported are listed in web/README.md.

import { meanStd } from './distribution.js';

// runtime/defects.py REASONS: what to tell the person holding the phone.
export const REASONS = Object.freeze({
  defocus: 'Tap to focus: the text is blurred',
  motion: 'Hold the phone steady',
  underexposed: 'Move to a brighter place',
  overexposed: 'Too much light: move out of direct light',
  glare: 'Tilt the page to remove the glare',
  incomplete: 'Fit the whole prescription in the frame',
  lowres: 'Move closer',
  jpeg: 'Image is too compressed: retake at full quality',
  scrawl: 'Handwriting is illegible: ask the prescriber for a clearer copy',
  not_document: 'This does not look like a prescription',
});
export const GENERIC_REASON = 'Retake: the photo is not clear enough'; // runtime/policy.py GENERIC_REASON

// runtime/policy.py Policy: the limits a frame without checks is judged by.
export const DEFAULT_POLICY = Object.freeze({
  defectThreshold: 0.5, // Policy.defect_threshold
  fallbackDefectThreshold: 0.2, // Policy.fallback_defect_threshold
});

/** {mean, std, verdict, reasons, reasonCodes, modelMean} for a score (scorer.js scoreInput). */
export function decide(score, values, threshold, policy = DEFAULT_POLICY) {
  // Without checks no mass moves to the floor; the mean is taken again from the float32
  // distribution, as decide() does, so a frame on the threshold falls the same way.
  const { mean, std } = meanStd(Array.from(score.distribution), values);
  const verdict = mean >= threshold ? 'ok' : 'retake';
  const causes = rankCauses(score, policy); // ranked for every frame, as decide() does
  const reasonCodes = verdict === 'retake' ? causes : [];
  const reasons = reasonCodes.map((code) => REASONS[code]);
  if (verdict === 'retake' && reasons.length === 0) reasons.push(GENERIC_REASON);
  return { mean, std, verdict, reasons, reasonCodes, causes, modelMean: score.mean };
}

/** Assessment.retake_reasons(): what a RETAKE says even when this frame passed on its own (the
 * smoothed state decides the prompt, and a retake must always say why). */
export function retakeReasons(assessment) {
  if (assessment.reasons.length > 0) return assessment.reasons;
  const fromCauses = assessment.causes.map((code) => REASONS[code]);
  return fromCauses.length > 0 ? fromCauses : [GENERIC_REASON];
}

/** Defect names, most severe first, from the model's defects output (rank_causes, no checks). */
export function rankCauses(score, policy = DEFAULT_POLICY) {
  const severity = new Map();
  const note = (code, value) => {
    if (code in REASONS) severity.set(code, Math.max(severity.get(code) ?? 0, value));
  };
  const defects = Object.entries(score.extras.defects ?? {});
  for (const [code, probability] of defects) {
    if (probability >= policy.defectThreshold) note(code, probability);
  }
  if (severity.size === 0 && defects.length > 0) {
    // A retake with no cause above the limit names the likeliest one: a hint beats "not clear enough".
    const [code, probability] = defects.reduce((best, item) => (item[1] > best[1] ? item : best));
    if (probability >= policy.fallbackDefectThreshold) note(code, probability);
  }
  // Array.prototype.sort is stable, like Python's sorted: equal severities keep the label order.
  return [...severity.keys()].sort((a, b) => severity.get(b) - severity.get(a));
}
