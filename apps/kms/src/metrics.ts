/**
 * Prometheus metrics in the text exposition format (version 0.0.4), written by hand: counters and one
 * latency histogram are all the KMS needs, and a client library would be one more dependency in a
 * component that holds keys. Label values come from closed sets (routes, codes, configured identities),
 * never from request data, so cardinality is bounded.
 */

type Labels = Readonly<Record<string, string>>;

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function labelText(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  return keys.length === 0 ? "" : `{${keys.map((k) => `${k}="${escapeLabel(labels[k]!)}"`).join(",")}}`;
}

class Counter {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = labelText(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelText(labels)) ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [k, v] of [...this.values].sort()) lines.push(`${this.name}${k} ${v}`);
    return lines.join("\n");
  }
}

class Histogram {
  private readonly series = new Map<
    string,
    { labels: Labels; counts: number[]; sum: number; count: number }
  >();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  observe(labels: Labels, seconds: number): void {
    const k = labelText(labels);
    let s = this.series.get(k);
    if (s === undefined) {
      s = { labels, counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) s.counts[i]!++;
    s.sum += seconds;
    s.count++;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of [...this.series].sort((a, b) => a[0].localeCompare(b[0]))) {
      BUCKETS.forEach((le, i) => {
        lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: String(le) })} ${s.counts[i]}`);
      });
      lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: "+Inf" })} ${s.count}`);
      lines.push(`${this.name}_sum${k} ${s.sum}`);
      lines.push(`${this.name}_count${k} ${s.count}`);
    }
    return lines.join("\n");
  }
}

/** The KMS's metrics. */
export class KmsMetrics {
  readonly requests = new Counter("asterism_kms_requests_total", "HTTP requests by route and status.");
  readonly releases = new Counter(
    "asterism_kms_key_releases_total",
    "Data keys released, by mode and caller.",
  );
  readonly created = new Counter("asterism_kms_keys_created_total", "Data keys created (user-managed mode).");
  readonly authFailures = new Counter("asterism_kms_auth_failures_total", "Refused callers, by reason.");
  readonly errors = new Counter("asterism_kms_errors_total", "Failed requests, by error domain and code.");
  readonly latency = new Histogram("asterism_kms_request_duration_seconds", "Request latency by route.");

  /** Exposition text, ending with a newline. */
  render(): string {
    return `${[this.requests, this.releases, this.created, this.authFailures, this.errors, this.latency]
      .map((m) => m.render())
      .join("\n")}\n`;
  }
}
