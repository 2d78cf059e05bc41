// Pure statistics helpers for the benchmark (no I/O; unit-tested in bench/test/harness.test.ts).

/** Median of the finite numbers in `values` (mean of the two middle ones for an even count); null if none. */
export function median(values) {
  const xs = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const mid = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

/** a / b, or null when either is missing or b is zero. */
export function ratio(a, b) {
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null;
  return a / b;
}

/** Whether a measured ratio meets a goal `{ op: '>=' | '<=', target }`; null when the ratio is missing. */
export function meetsGoal(value, goal) {
  if (value == null) return null;
  if (goal.op === '>=') return value >= goal.target;
  if (goal.op === '<=') return value <= goal.target;
  throw new Error(`unknown goal operator: ${goal.op}`);
}
