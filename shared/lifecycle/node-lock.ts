import { LifecycleError } from "./errors.ts";

/** Who activated the node. */
export type Activation = "init" | "join" | "rejoin" | "recovery";

/**
 * The one-way node lock (Constellation `bootstrapper/internal/nodelock`, reference §2.3): init, join,
 * rejoin and recovery race for it; exactly one wins, and the winner extends PCR 15 with the cluster ID
 * while holding it. It is never released: after activation the node can neither be initialized nor join
 * again until it reboots (and PCR 15 is reset).
 *
 * JavaScript runs one callback at a time, so the check-and-set in {@link tryActivate} is atomic; the PCR
 * extension happens after the state change, so a second caller never sees "free" while the first extends.
 */
export class NodeLock {
  #holder: { by: Activation; clusterId: Uint8Array } | undefined;

  /** Who holds the lock, if anyone. */
  get holder(): Activation | undefined {
    return this.#holder?.by;
  }

  /**
   * Take the lock for `by` and run `extend` (the PCR 15 extension) exactly once. Returns false, without
   * running `extend`, when the lock is already taken. If `extend` fails the lock stays taken: the node's PCR
   * state is unknown and only a reboot can make it usable again.
   */
  async tryActivate(by: Activation, clusterId: Uint8Array, extend: () => Promise<void>): Promise<boolean> {
    if (this.#holder !== undefined) return false;
    this.#holder = { by, clusterId: clusterId.slice() };
    await extend();
    return true;
  }

  /** Like {@link tryActivate} but throws `NODE_LOCKED` when the lock is taken. */
  async activate(by: Activation, clusterId: Uint8Array, extend: () => Promise<void>): Promise<void> {
    const holder = this.#holder?.by;
    if (!(await this.tryActivate(by, clusterId, extend)))
      throw new LifecycleError("NODE_LOCKED", "The node is already being activated", {
        expected: "an unactivated node",
        actual: `activated by ${holder ?? "another flow"}`,
      });
  }
}
