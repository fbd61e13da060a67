// What one update of the discovery's member list changed, and the lines it
// logs about it.
import type { Logger } from "../log/logger.ts";

/** The addresses that joined, left and registered again, and the new sorted list. */
export interface MemberChange {
  members: string[];
  /** Whether `members` holds the same addresses as before. */
  sameSet: boolean;
  joined: string[];
  left: string[];
  /** Members still there under a new registration id (e.g. restarted). */
  reregistered: string[];
}

/**
 * Compares the published `previous` list and its ids (member → registration
 * id) with the ids now; `undefined` when neither the set of addresses nor a
 * member's registration changed (a known node rewrote its key under the same
 * lease).
 */
export function memberChange(
  previous: readonly string[],
  before: ReadonlyMap<string, string>,
  after: ReadonlyMap<string, string>,
): MemberChange | undefined {
  const members = [...after.keys()].sort();
  const sameSet = members.length === previous.length &&
    members.every((addr, i) => addr === previous[i]);
  const reregistered = members.filter((addr) =>
    before.has(addr) && before.get(addr) !== after.get(addr)
  );
  if (sameSet && reregistered.length === 0) return undefined;
  const joined = members.filter((a) => !previous.includes(a));
  const left = previous.filter((a) => !members.includes(a));
  return { members, sameSet, joined, left, reregistered };
}

/** Logs a change: registered again at debug, joined and left at info. */
export function logMemberChange(log: Logger, change: MemberChange): void {
  for (const addr of change.reregistered) log.debug("Member registered again", { addr });
  for (const addr of change.joined) log.info("Member joined", { addr });
  for (const addr of change.left) log.info("Member left", { addr });
}
