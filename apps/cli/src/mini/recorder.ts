/**
 * Keeps the state file's `mini` section in step with what runs: every process is recorded the moment it
 * starts, so `mini down` can stop it even if `mini up` dies half-way.
 */

import { type MiniNode, type MiniState, type State, writeState } from "../workspace/state.ts";
import type { DaemonRecord } from "./processes.ts";

export class MiniRecorder {
  private state: State;

  constructor(
    private readonly path: string,
    base: State,
    mini: Omit<MiniState, "nodes" | "services">,
  ) {
    this.state = { ...base, mini: { ...mini, nodes: [], services: [] } };
    this.flush();
  }

  /** The current state (a copy is not needed: callers only read it). */
  get current(): State {
    return this.state;
  }

  private get mini(): MiniState {
    return this.state.mini as MiniState;
  }

  private flush(): void {
    writeState(this.path, this.state);
  }

  update(fn: (s: State) => State): void {
    this.state = fn(this.state);
    this.flush();
  }

  setMetadataUrl(url: string): void {
    this.update((s) => ({ ...s, mini: { ...this.mini, metadataUrl: url } }));
  }

  addService(name: string, process: DaemonRecord, endpoint?: string): void {
    const services = [
      ...this.mini.services,
      { name, process: { ...process }, ...(endpoint ? { endpoint } : {}) },
    ];
    this.update((s) => ({ ...s, mini: { ...this.mini, services } }));
  }

  upsertNode(node: MiniNode): void {
    const nodes = this.mini.nodes.filter((n) => n.name !== node.name);
    nodes.push(node);
    nodes.sort((a, b) => a.name.localeCompare(b.name));
    this.update((s) => ({ ...s, mini: { ...this.mini, nodes } }));
  }

  node(name: string): MiniNode | undefined {
    return this.mini.nodes.find((n) => n.name === name);
  }

  addNodeProcess(name: string, p: DaemonRecord): void {
    const n = this.node(name);
    if (!n) return;
    this.upsertNode({ ...n, processes: [...n.processes.filter((x) => x.name !== p.name), { ...p }] });
  }

  setNodeEndpoint(name: string, key: string, endpoint: string): void {
    const n = this.node(name);
    if (!n) return;
    this.upsertNode({ ...n, endpoints: { ...n.endpoints, [key]: endpoint } });
  }
}
