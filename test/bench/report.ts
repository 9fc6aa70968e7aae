/**
 * One figure compared with a baseline measured in the same run. `ratio` is always "how we fare
 * against the baseline, higher is better": value/baseline when higher values are better
 * (throughput), baseline/value when lower values are better (latency).
 */
export interface Figure {
  readonly bench: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline: number;
  /** Default 'higher' (a throughput). */
  readonly better?: 'higher' | 'lower';
}

export type Report = (figure: Figure) => void;

export interface BenchGroup {
  run(report: Report): Promise<void>;
}

export function ratioOf(figure: Figure): number {
  const raw = figure.better === 'lower' ? figure.baseline / figure.value : figure.value / figure.baseline;
  return Math.round(raw * 1000) / 1000;
}
