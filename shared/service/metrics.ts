/**
 * A minimal Prometheus registry (text exposition format 0.0.4): counters and histograms with labels.
 * Hand-written because the services need a few metrics, not a client library.
 */

type Labels = Readonly<Record<string, string>>;

function labelKey(labels: Labels): string {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0
    ? ""
    : `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`).join(",")}}`;
}

/** A monotonically increasing counter. */
export interface Counter {
  inc(labels?: Labels, by?: number): void;
}

/** A histogram of observations in seconds (or any unit) with fixed buckets. */
export interface Histogram {
  observe(value: number, labels?: Labels): void;
}

const DEFAULT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The registry a service exposes at `/metrics`. */
export class MetricsRegistry {
  readonly #renderers: (() => string)[] = [];

  counter(name: string, help: string): Counter {
    const values = new Map<string, number>();
    this.#renderers.push(() => {
      const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} counter`];
      for (const [k, v] of values) lines.push(`${name}${k} ${v}`);
      return lines.join("\n");
    });
    return {
      inc(labels = {}, by = 1) {
        const k = labelKey(labels);
        values.set(k, (values.get(k) ?? 0) + by);
      },
    };
  }

  histogram(name: string, help: string, buckets: readonly number[] = DEFAULT_BUCKETS): Histogram {
    const series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
    this.#renderers.push(() => {
      const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
      for (const s of series.values()) {
        for (const [i, b] of buckets.entries()) {
          lines.push(`${name}_bucket${labelKey({ ...s.labels, le: String(b) })} ${s.counts[i]}`);
        }
        lines.push(`${name}_bucket${labelKey({ ...s.labels, le: "+Inf" })} ${s.count}`);
        lines.push(
          `${name}_sum${labelKey(s.labels)} ${s.sum}`,
          `${name}_count${labelKey(s.labels)} ${s.count}`,
        );
      }
      return lines.join("\n");
    });
    return {
      observe(value, labels = {}) {
        const k = labelKey(labels);
        let s = series.get(k);
        if (!s) {
          s = { labels, counts: buckets.map(() => 0), sum: 0, count: 0 };
          series.set(k, s);
        }
        for (let i = 0; i < buckets.length; i++)
          if (value <= (buckets[i] as number)) (s.counts[i] as number)++;
        s.sum += value;
        s.count++;
      },
    };
  }

  /** The exposition text for `/metrics` (content type `text/plain; version=0.0.4`). */
  render(): string {
    return `${this.#renderers.map((r) => r()).join("\n")}\n`;
  }
}
