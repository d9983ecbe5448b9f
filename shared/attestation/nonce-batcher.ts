import { AttestationIssueError } from "./errors.ts";
import { buildNonceTree, type InclusionProof, MAX_BATCH_SIZE } from "./nonce-tree.ts";

/** What one verifier gets back: the batch's document and the proof of its own nonce. */
export interface BatchedEvidence {
  readonly document: Uint8Array;
  readonly proof: InclusionProof;
}

/** Options of {@link createNonceBatcher}. */
export interface NonceBatcherOptions {
  /** Issue one document for `root` (the node's issuer with its fixed userData, e.g. one TPM quote). */
  readonly issue: (root: Uint8Array) => Promise<Uint8Array>;
  /** Most nonces under one document (default 256, at most {@link MAX_BATCH_SIZE}). */
  readonly maxBatch?: number;
  /** Most verifiers waiting at once; beyond that `submit` fails fast with `BATCH_QUEUE_FULL` (default 8192). */
  readonly maxPending?: number;
}

/** A batcher: `submit` resolves once the document covering the nonce exists. */
export interface NonceBatcher {
  submit(nonce: Uint8Array): Promise<BatchedEvidence>;
  /** Verifiers waiting for a document (queued or in the batch being issued). */
  pending(): number;
  /** Documents issued so far, and the nonces they covered (for metrics). */
  stats(): { readonly documents: number; readonly nonces: number };
}

interface Waiter {
  readonly nonce: Uint8Array;
  resolve(e: BatchedEvidence): void;
  reject(err: unknown): void;
}

/**
 * Group commit for attestation: while one document is being issued (a TPM quote takes milliseconds and a
 * TPM does one at a time), arriving nonces queue; when it is done, all of them (up to `maxBatch`) go into
 * the next document, issued for the root of their nonce tree. An idle node answers the first verifier at
 * once (a batch of one), so batching never waits for company: it only stops verifiers from queueing
 * behind each other's quotes. Each verifier receives the proof of its own nonce (nonce-tree.ts) and checks
 * it with `validateBatchedDocument`.
 *
 * A failed issuance fails exactly the verifiers of that batch; the next batch tries again.
 */
export function createNonceBatcher(opts: NonceBatcherOptions): NonceBatcher {
  const maxBatch = Math.min(opts.maxBatch ?? 256, MAX_BATCH_SIZE);
  const maxPending = opts.maxPending ?? 8192;
  if (!Number.isInteger(maxBatch) || maxBatch < 1)
    throw new RangeError("maxBatch must be a positive integer");
  const queue: Waiter[] = [];
  let inFlight = 0;
  let running = false;
  let documents = 0;
  let covered = 0;

  const run = async () => {
    running = true;
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0, maxBatch);
        inFlight = batch.length;
        try {
          const tree = buildNonceTree(batch.map((w) => w.nonce));
          const document = await opts.issue(tree.root);
          documents++;
          covered += batch.length;
          batch.forEach((w, i) => {
            w.resolve({ document, proof: tree.proof(i) });
          });
        } catch (err) {
          for (const w of batch) w.reject(err);
        } finally {
          inFlight = 0;
        }
      }
    } finally {
      running = false;
    }
  };

  return {
    submit(nonce) {
      if (queue.length + inFlight >= maxPending)
        return Promise.reject(
          new AttestationIssueError("BATCH_QUEUE_FULL", "Too many verifiers are waiting", {
            expected: `at most ${maxPending} waiting`,
          }),
        );
      return new Promise<BatchedEvidence>((resolve, reject) => {
        queue.push({ nonce: nonce.slice(), resolve, reject });
        if (!running) void run();
      });
    },
    pending: () => queue.length + inFlight,
    stats: () => ({ documents, nonces: covered }),
  };
}
