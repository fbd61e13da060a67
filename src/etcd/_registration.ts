// One registration key as the discovery reads it; not exported from mod.ts.
import type { IKeyValue } from "etcd3";
import type { Logger } from "../log/logger.ts";

/** What one registration key says: the member's address, and who wrote it. */
export interface Registration {
  addr: string;
  /** The etcd lease (and creation) it was written under: new when it registers again. */
  id: string;
  /** Written by a node of the Go original: `{"Op":0,"Addr":...,"Metadata":null}`. */
  goOriginal: boolean;
}

/**
 * Reads a registration value as etcd's endpoints-manager JSON (`Op` and
 * `Metadata` ignored); a value that does not parse is skipped with a warning.
 */
export function parseRegistration(kv: IKeyValue, log: Logger): Registration | undefined {
  const value = kv.value.toString();
  try {
    const parsed = JSON.parse(value);
    const addr = parsed?.Addr;
    if (typeof addr === "string" && addr !== "") {
      const id = `${kv.lease}@${kv.create_revision}`;
      return { addr, id, goOriginal: "Op" in parsed };
    }
  } catch {
    // Reported below, like a value of the wrong shape.
  }
  log.warn('Skipping an etcd value that is not {"Addr": "<addr>"}', {
    key: kv.key.toString(),
    value: value.length > 100 ? `${value.slice(0, 99)}…` : value,
  });
  return undefined;
}
