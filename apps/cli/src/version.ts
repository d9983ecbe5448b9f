declare const ASTERISM_VERSION: string | undefined;

/**
 * The release version, set at compile time by scripts/build.ts (`--define ASTERISM_VERSION=…`);
 * `0.1.0-dev` when run from source.
 */
export const VERSION: string = typeof ASTERISM_VERSION === "string" ? ASTERISM_VERSION : "0.1.0-dev";
