// The status page's key lookup: which member owns a key, and what a GET of
// it through the gateway answers.
import { errorStatus } from "../../errors.ts";
import type { StatusSource } from "./report.ts";

/** What `?group=&key=` adds to a status report. */
export interface LookupResult {
  /** The group asked for. */
  group: string;
  /** The key asked for. */
  key: string;
  /** The member that owns the key on the ring; `null` on an empty ring. */
  owner: string | null;
  /** The HTTP status a GET of the key would have. */
  status: number;
  /** The member that answered (the owner, unless it was down). */
  node?: string;
  /** The value as UTF-8 text, cut at 1,024 characters. */
  value?: string;
  /** The value's whole length in bytes. */
  valueBytes?: number;
  /** Milliseconds it stays fresh, when it expires. */
  ttlMs?: number;
  /** Why there is no value (e.g. the key was not found). */
  error?: string;
}

const SHOWN_CHARS = 1024;

export async function lookUp(
  source: StatusSource,
  group: string,
  key: string,
  timeoutMs: number,
): Promise<LookupResult> {
  const owner = source.ring.get(key) ?? null;
  try {
    const found = await source.get(group, key, { deadline: Date.now() + timeoutMs });
    const text = new TextDecoder().decode(found.value);
    return {
      group,
      key,
      owner,
      status: 200,
      node: found.node,
      value: text.length > SHOWN_CHARS ? text.slice(0, SHOWN_CHARS) : text,
      valueBytes: found.value.length,
      ...(found.ttl === undefined ? {} : { ttlMs: found.ttl }),
    };
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    return { group, key, owner, status: errorStatus(error).http, error: message };
  }
}
