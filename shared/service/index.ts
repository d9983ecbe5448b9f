/**
 * What every Asterism service shares: structured logging with redaction, a Prometheus registry, and the
 * standard `--help`/`--version` handling of compiled service binaries.
 *
 * @module
 */
export { type CappedBody, type ReadBodyOptions, readBodyText } from "./body.ts";
export { handleServiceFlags, type ServiceInfo } from "./flags.ts";
export {
  createEndpointsFile,
  type ListenAddress,
  listenAddressSchema,
  listenerUrl,
  parseListenAddress,
} from "./listen.ts";
export {
  createJsonLogger,
  createMemoryLogger,
  type LogFields,
  type Logger,
  type LogLevel,
} from "./logger.ts";
export { type Counter, type Histogram, MetricsRegistry } from "./metrics.ts";
