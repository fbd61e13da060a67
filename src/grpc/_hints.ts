// Hinted handoff: the writes a member missed while it did not answer, kept
// by the gateway that failed them over and replayed to the member before
// its keys are read from it again (see docs/RELIABILITY.md).
import type { PendingRequest } from "./_member_stream.ts";

/** A write a member missed: the newest one per key. */
export type Hint = Pick<PendingRequest, "group" | "key" | "op" | "value" | "ttl">;

/** Hints kept per member; past it the oldest go (that key may then be stale there). */
const MAX_HINTS = 10_000;

export class Hints {
  #byMember = new Map<string, Map<string, Hint>>();

  /** Keeps `write` for `member`, replacing an older write of the same key. */
  add(member: string, write: Hint): void {
    let hints = this.#byMember.get(member);
    if (hints === undefined) this.#byMember.set(member, hints = new Map());
    const id = `${write.group}\0${write.key}`;
    hints.delete(id);
    hints.set(id, {
      group: write.group,
      key: write.key,
      op: write.op,
      value: write.value,
      ttl: write.ttl,
    });
    if (hints.size > MAX_HINTS) hints.delete(hints.keys().next().value!);
  }

  /** Replaces every member's hint for the key with a newer write of it. */
  supersede(write: Hint): void {
    const id = `${write.group}\0${write.key}`;
    for (const [member, hints] of this.#byMember) if (hints.has(id)) this.add(member, write);
  }

  /** Whether writes are kept for `member`. */
  has(member: string): boolean {
    return (this.#byMember.get(member)?.size ?? 0) > 0;
  }

  /** Puts back hints that could not be delivered, unless a newer write of the key is kept. */
  restore(member: string, hints: readonly Hint[]): void {
    for (const hint of hints) {
      if (!this.#byMember.get(member)?.has(`${hint.group}\0${hint.key}`)) this.add(member, hint);
    }
  }

  /** Takes `member`'s hints, to replay them. */
  take(member: string): Hint[] {
    const hints = this.#byMember.get(member);
    this.#byMember.delete(member);
    return hints === undefined ? [] : [...hints.values()];
  }
}
