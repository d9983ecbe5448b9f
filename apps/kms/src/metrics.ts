import { type Counter, type Histogram, MetricsRegistry } from "@asterism/service";

/** Latency buckets (seconds): a key release takes well under a millisecond in-process. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * The KMS's metrics on the shared Prometheus registry. Label values come from closed sets (routes,
 * error codes, configured identities, refusal reasons), never from request data, so cardinality stays
 * bounded whatever callers send.
 */
export interface KmsMetrics {
  readonly registry: MetricsRegistry;
  readonly requests: Counter;
  readonly releases: Counter;
  readonly created: Counter;
  readonly authFailures: Counter;
  readonly errors: Counter;
  readonly latency: Histogram;
}

/** Register the KMS metrics on `registry` (a fresh one by default). */
export function createKmsMetrics(registry: MetricsRegistry = new MetricsRegistry()): KmsMetrics {
  return {
    registry,
    requests: registry.counter("asterism_kms_requests_total", "HTTP requests by route and status."),
    releases: registry.counter("asterism_kms_key_releases_total", "Data keys released, by mode and caller."),
    created: registry.counter("asterism_kms_keys_created_total", "Data keys created (user-managed mode)."),
    authFailures: registry.counter("asterism_kms_auth_failures_total", "Refused callers, by reason."),
    errors: registry.counter("asterism_kms_errors_total", "Failed requests, by error domain and code."),
    latency: registry.histogram(
      "asterism_kms_request_duration_seconds",
      "Request latency by route.",
      LATENCY_BUCKETS,
    ),
  };
}
