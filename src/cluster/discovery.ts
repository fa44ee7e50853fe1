// The contract of discovery: where a starting node finds the cluster it joins. Implementations:
// static seed nodes, the live rows of a membership table, Kubernetes pods by label; all run the
// one conformance suite.

/** A node that discovery found. */
export interface DiscoveredNode {
  /** Where to dial it: `host:port`. */
  readonly address: string;
  /** Its node name, when discovery knows it. */
  readonly node?: string;
}

/** Finds the nodes that a starting node can join through. */
export interface Discovery {
  /** A short name for logs and errors, such as `"static-seeds"` or `"kubernetes"`. */
  readonly name: string;
  /**
   * Lists the nodes to try, best first. An empty list means none is known (the node may then
   * form a new cluster, when its membership options allow it).
   *
   * @param signal Aborts the lookup.
   * @returns The nodes found.
   */
  discover(signal?: AbortSignal): Promise<DiscoveredNode[]>;
  /** Releases what it holds (connections, timers). */
  close(): Promise<void>;
}
