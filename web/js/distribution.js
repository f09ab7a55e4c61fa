// The arithmetic of a score distribution (runtime/scorer.py mean_std), shared by the scorer and
// the policy, in float64 as numpy does it, down to the order of the additions: np.sum adds with
// eight running sums (pairwise summation), so a mean that falls exactly on the threshold falls
// the same way here.

const PAIRWISE_BLOCK = 128; // numpy's PW_BLOCKSIZE
const ACCUMULATORS = 8;

/** np.sum of a 1-D float64 array, with numpy's pairwise summation. */
export function numpySum(values) {
  const n = values.length;
  if (n < ACCUMULATORS) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[i];
    return sum;
  }
  if (n > PAIRWISE_BLOCK) {
    let half = Math.floor(n / 2);
    half -= half % ACCUMULATORS;
    return numpySum(values.slice(0, half)) + numpySum(values.slice(half));
  }
  const r = Array.from(values.slice(0, ACCUMULATORS));
  let i = ACCUMULATORS;
  for (; i < n - (n % ACCUMULATORS); i += ACCUMULATORS) {
    for (let j = 0; j < ACCUMULATORS; j++) r[j] += values[i + j];
  }
  let sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
  for (; i < n; i++) sum += values[i];
  return sum;
}

/** Mean and standard deviation of a distribution over the score values. */
export function meanStd(distribution, values) {
  const total = numpySum(Array.from(distribution));
  const p = Array.from(distribution, (x) => x / total);
  const mean = numpySum(p.map((x, i) => x * values[i]));
  const variance = numpySum(p.map((x, i) => x * ((values[i] - mean) * (values[i] - mean))));
  return { mean, std: Math.sqrt(Math.max(variance, 0)) };
}
