// Percentiles for the benchmarks: medians and tails of one run's samples.

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[at]!;
}

export const round = (n: number, digits = 3) => Number(n.toFixed(digits));

/** p50, p99 and the count, rounded to `digits` decimals. */
export function summary(samples: number[], digits = 3) {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    p50: round(percentile(sorted, 50), digits),
    p99: round(percentile(sorted, 99), digits),
    n: sorted.length,
  };
}
