// Gets of keys that members of the Go original own, as its unary Get on the
// gateway's ring channel: one call per get (the Go original has no stream),
// placed by the key's hash on its owner, or on the next member that is
// connected and does not refuse it.
import * as grpc from "@grpc/grpc-js";
import { ATTEMPT_METADATA_KEY, HASH_METADATA_KEY } from "./balancer.ts";
import { callSeedGet, type MemberProtocols, refusedMethod, seedError } from "./protocols.ts";
import { brokenConnection } from "./status.ts";
import type { Waiter } from "./_owner_stream.ts";

export class SeedGets {
  #client: grpc.Client;
  #protocols: MemberProtocols;
  #isMember: (addr: string) => boolean;
  #redirect: (waiter: Waiter, error: unknown, member: string) => void;

  /**
   * `redirect` sends a get again once the member that got it turned out to
   * refuse the Go original's Get too.
   */
  constructor(
    client: grpc.Client,
    protocols: MemberProtocols,
    hooks: {
      isMember: (addr: string) => boolean;
      redirect: (waiter: Waiter, error: unknown, member: string) => void;
    },
  ) {
    this.#client = client;
    this.#protocols = protocols;
    this.#isMember = hooks.isMember;
    this.#redirect = hooks.redirect;
  }

  /** Sends `waiter`'s get; `hash` is its key's ring position. */
  send(waiter: Waiter, hash: number, attempt = 0): void {
    const metadata = new grpc.Metadata();
    metadata.set(HASH_METADATA_KEY, String(hash));
    if (attempt > 0) metadata.set(ATTEMPT_METADATA_KEY, String(attempt));
    const request = { group: waiter.group, key: waiter.key };
    const options = { deadline: waiter.deadline };
    callSeedGet(this.#client, request, metadata, options, (error, response, peer) => {
      if (error === null) {
        // Decoded bytes are a view into the received buffer: copy what is kept.
        waiter.resolve({ value: new Uint8Array(response!.value), ttl: undefined, node: peer });
      } else if (refusedMethod(error) && this.#isMember(peer)) {
        this.#protocols.learn(peer, "none");
        this.#redirect(waiter, error, peer);
      } else if (brokenConnection(error.code) && attempt === 0) {
        // As on the streams: sent once more, to the next member.
        this.send(waiter, hash, 1);
      } else {
        waiter.reject(seedError(error, peer));
      }
    });
  }
}
