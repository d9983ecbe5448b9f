import * as v from "valibot";

/**
 * The error body of every lifecycle endpoint. `message` is fixed text chosen by the server: never a
 * secret, a log excerpt or a path (Constellation streamed the node's journal on a bad init secret,
 * reference/constellation.md §11 item 9).
 */
export const ErrorBodySchema = v.strictObject({
  error: v.strictObject({
    code: v.pipe(v.string(), v.regex(/^[A-Z][A-Z0-9_]{0,63}$/)),
    message: v.pipe(v.string(), v.maxLength(1024)),
  }),
});
export type ErrorBody = v.InferOutput<typeof ErrorBodySchema>;

/** Build an error body. */
export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}
