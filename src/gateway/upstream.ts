/**
 * {@linkcode Upstream}: what the gateway's HTTP handler needs from the
 * cluster. {@linkcode GrpcUpstream} is the one that reaches it over gRPC.
 *
 * @module
 */
// The seam lives with its consumer, as groupcache's PeerPicker does: the
// handler and its tests need nothing of gRPC, and src/grpc/grpc_upstream.ts
// implements it with a type-only import (no module cycle at run time).

/** A value as a node returned it. */
export interface UpstreamValue {
  /** The value (a fresh buffer the caller may keep). */
  value: Uint8Array<ArrayBuffer>;
  /** Milliseconds it stays fresh, when it expires. */
  ttl: number | undefined;
  /** The node that answered. */
  node: string;
  /** A set or remove: done at the key's owner only, the caller tells the other nodes. */
  ownerOnly?: boolean;
  /** A write done at the key's next member in place of this owner, which did not answer. */
  failedOver?: string;
}

/** Where a write was done. */
export interface WriteResult {
  /** The member that stored (or removed) the key. */
  node: string;
  /**
   * Whether that was the key's next member, because its owner did not
   * answer; the owner is told when it answers again.
   */
  failover: boolean;
}

/** Options for every upstream call. */
export interface UpstreamCallOptions {
  /** When to give up, in milliseconds since the epoch; it travels to the node. */
  deadline: number;
}

/** What a gateway needs from the cluster. */
export interface Upstream {
  /** Gets a value from the key's owner. */
  get(group: string, key: string, options: UpstreamCallOptions): Promise<UpstreamValue>;
  /** Stores a value at the key's owner; other nodes drop their copies. */
  set(
    group: string,
    key: string,
    value: Uint8Array,
    ttl: number | undefined,
    options: UpstreamCallOptions,
  ): Promise<WriteResult | void>;
  /** Removes a key everywhere. */
  remove(group: string, key: string, options: UpstreamCallOptions): Promise<WriteResult | void>;
  /** The members the gateway knows of. */
  readonly members: readonly string[];
  /** Whether some member is connected and known to serve gets. */
  readonly serving: boolean;
  /** Closes the channel. */
  close(): void;
}
