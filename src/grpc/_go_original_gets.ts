// Gets of keys that members of the Go original own, as its unary Get on the
// gateway's ring channel: one call per get (the Go original has no stream),
// placed by the key's hash on its owner, or on the next member that is
// connected and does not refuse it.
import * as grpc from "@grpc/grpc-js";
import { ATTEMPT_METADATA_KEY, HASH_METADATA_KEY } from "./balancer.ts";
import {
  callGoOriginalGet,
  goOriginalError,
  type MemberProtocols,
  refusedMethod,
} from "./protocols.ts";
import { brokenConnection } from "./status.ts";
import type { PendingRequest } from "./_member_stream.ts";

export class GoOriginalGets {
  #client: grpc.Client;
  #protocols: MemberProtocols;
  #isMember: (addr: string) => boolean;
  #redirect: (request: PendingRequest, error: unknown, member: string) => void;

  /**
   * `redirect` sends a get again once the member that got it turned out to
   * refuse the Go original's Get too.
   */
  constructor(
    client: grpc.Client,
    protocols: MemberProtocols,
    hooks: {
      isMember: (addr: string) => boolean;
      redirect: (request: PendingRequest, error: unknown, member: string) => void;
    },
  ) {
    this.#client = client;
    this.#protocols = protocols;
    this.#isMember = hooks.isMember;
    this.#redirect = hooks.redirect;
  }

  /** Sends `request`'s get; `hash` is its key's ring position. */
  send(request: PendingRequest, hash: number, attempt = 0): void {
    const metadata = new grpc.Metadata();
    metadata.set(HASH_METADATA_KEY, String(hash));
    if (attempt > 0) metadata.set(ATTEMPT_METADATA_KEY, String(attempt));
    const message = { group: request.group, key: request.key };
    const options = { deadline: request.deadline };
    callGoOriginalGet(this.#client, message, metadata, options, (error, response, peer) => {
      if (error === null) {
        // Decoded bytes are a view into the received buffer: copy what is kept.
        request.resolve({ value: new Uint8Array(response!.value), ttl: undefined, node: peer });
      } else if (refusedMethod(error) && this.#isMember(peer)) {
        this.#protocols.learn(peer, "none");
        this.#redirect(request, error, peer);
      } else if (brokenConnection(error.code) && attempt === 0) {
        // As on the streams: sent once more, to the next member.
        this.send(request, hash, 1);
      } else {
        request.reject(goOriginalError(error, peer));
      }
    });
  }
}
