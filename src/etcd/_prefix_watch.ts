// An etcd watch on a key prefix, told as what the discovery acts on: puts
// and deletes, the connection lost and back, and a cancellation by etcd.
import type { Etcd3, IKeyValue, Watcher } from "etcd3";

/** What a prefix watch reports. */
export interface PrefixWatchEvents {
  put(kv: IKeyValue): void;
  delete(kv: IKeyValue): void;
  /** The watch's connection broke; etcd3 reconnects it by itself. */
  lost(error: unknown): void;
  /** The connection is back after `lost` (not the first attach). */
  reconnected(): void;
  /** etcd cancelled the watch (e.g. its revision was compacted); etcd3 has dropped it. */
  cancelled(error: unknown): void;
}

/** Watches `prefix` from `fromRevision` on, with every listener on before it attaches. */
export function watchPrefix(
  client: Etcd3,
  prefix: string,
  fromRevision: bigint,
  events: PrefixWatchEvents,
): Watcher {
  // watcher(), not create(): the listeners must be on before it attaches,
  // or events and a cancellation right after the creation could be lost
  // (and an 'error' without a listener throws).
  const watcher = client.watch().prefix(prefix).startRevision(String(fromRevision)).watcher();
  let disconnected = false;
  watcher.on("put", (kv) => events.put(kv));
  watcher.on("delete", (kv) => events.delete(kv));
  watcher.on("disconnected", (error) => {
    disconnected = true;
    events.lost(error);
  });
  watcher.on("connected", () => {
    if (!disconnected) return;
    disconnected = false;
    events.reconnected();
  });
  watcher.on("error", (error) => events.cancelled(error));
  return watcher;
}
