// Hedged gets: a get whose member has answered nothing for its budget is
// sent to the next member as well, and the first good answer wins.
import { NotFoundError } from "../errors.ts";
import type { PendingRequest } from "./_member_stream.ts";
import type { UpstreamValue } from "../gateway/upstream.ts";

/**
 * Makes `request` and the copy this returns settle it once: with the first
 * value either gets, or a not-found (an answer, not a failure), or else the
 * error of the one that fails last. The copy is loaded by `member` itself
 * (`local`), so a frozen owner is not asked again on its behalf.
 */
export function hedgedCopy(request: PendingRequest, member: string): PendingRequest {
  const { resolve, reject } = request;
  let pending = 2;
  let settled = false;
  const win = (value: UpstreamValue) => {
    if (settled) return;
    settled = true;
    resolve(value);
  };
  const lose = (error: unknown) => {
    if (settled) return;
    if (--pending > 0 && !(error instanceof NotFoundError)) return;
    settled = true;
    reject(error);
  };
  request.resolve = win;
  request.reject = lose;
  request.hedged = true;
  // Neither is sent again when its stream breaks: the other is in flight.
  request.retried = true;
  const { group, key, deadline } = request;
  return {
    id: 0,
    group,
    key,
    deadline,
    local: true,
    member,
    hedged: true,
    retried: true,
    redirects: 0,
    resolve: win,
    reject: lose,
  };
}
