// Writes: a set or remove at the key's owner (or, while it does not answer,
// at its next member), then a drop of the key at every other member, which
// may hold a copy it loaded from the owner.
import { UnsupportedError } from "../errors.ts";
import { checkTtl } from "../getter.ts";
import { MAX_VALUE_BYTES } from "../limits.ts";
import type { UpstreamCallOptions, UpstreamValue, WriteResult } from "../gateway/upstream.ts";
import type { FailOver } from "./_failover.ts";
import type { Hint } from "./_hints.ts";
import type { PendingRequest } from "./_member_stream.ts";
import { ItemOp } from "./messages.ts";

/** What {@linkcode Writes} needs of its upstream. */
export interface WritesOptions {
  /** Sends a request to its key's owner. */
  send(request: PendingRequest): void;
  /** Sends a request to exactly `member`. */
  sendTo(member: string, request: PendingRequest): void;
  /** Every member known now. */
  members(): readonly string[];
  failOver: FailOver;
  /** Called for each member that could not be told to drop its copy of a key. */
  dropFailed(member: string, error: unknown): void;
}

export class Writes {
  #options: WritesOptions;

  constructor(options: WritesOptions) {
    this.#options = options;
  }

  /**
   * Stores a value at the key's owner, then has every other node drop its
   * copy; both travel on the streams, batched with gets.
   */
  async set(
    group: string,
    key: string,
    value: Uint8Array,
    ttl: number | undefined,
    options: UpstreamCallOptions,
  ): Promise<WriteResult> {
    if (ttl !== undefined) ttl = Math.ceil(checkTtl(ttl, "set"));
    if (ttl !== undefined && ttl > Number.MAX_SAFE_INTEGER) {
      throw new RangeError(
        `Cannot set: ttl is over ${Number.MAX_SAFE_INTEGER} ms: received ${ttl}`,
      );
    }
    if (value.length > MAX_VALUE_BYTES) {
      throw new RangeError(
        `Cannot set: value is over ${MAX_VALUE_BYTES} bytes: received ${value.length}`,
      );
    }
    const write = { group, key, op: ItemOp.SET, value, ttl };
    return await this.#written(write, await this.#write(write, options), options);
  }

  /** Removes a key from its owner, then from every other node. */
  async remove(group: string, key: string, options: UpstreamCallOptions): Promise<WriteResult> {
    try {
      const write = { group, key, op: ItemOp.REMOVE };
      return await this.#written(write, await this.#write(write, options), options);
    } catch (error) {
      // The owner may not have been told: the key goes from everywhere else.
      // An owner that refused (the Go original) changed nothing: nor does this.
      if (!(error instanceof UnsupportedError)) {
        await this.#dropElsewhere({ group, key, op: ItemOp.REMOVE }, [], options);
      }
      throw error;
    }
  }

  // After a write at the owner, or at its next member in its place: the
  // other members drop their copies (the owner that missed it has a hint).
  async #written(
    write: Hint,
    done: UpstreamValue,
    options: UpstreamCallOptions,
  ): Promise<WriteResult> {
    const { node, failedOver } = done;
    if (failedOver !== undefined || done.ownerOnly) {
      await this.#dropElsewhere(write, this.#options.failOver.written(write, done), options);
    }
    return { node, failover: failedOver !== undefined };
  }

  // Sends a set or remove to the key's owner. The node decides by its own
  // ring (the gateway's may lag behind): as the owner it does the write
  // alone (ownerOnly) and the caller tells the other nodes over its streams;
  // any other node passes it on as a Set or Remove call would.
  #write(
    item: Pick<PendingRequest, "group" | "key" | "op" | "value" | "ttl">,
    options: UpstreamCallOptions,
  ): Promise<UpstreamValue> {
    return new Promise((resolve, reject) => {
      const request = { ...item, id: 0, deadline: options.deadline, retried: false, redirects: 0 };
      this.#options.send({ ...request, resolve, reject });
    });
  }

  // Has every member but `except` drop its copy of a key. Best effort, as
  // between nodes: a member that cannot be told is not the key's owner.
  // A member that could not be told keeps the write as a hint, and is
  // suspect until it takes it.
  async #dropElsewhere(
    write: Hint,
    except: readonly string[],
    options: UpstreamCallOptions,
  ): Promise<void> {
    const { group, key } = write;
    const drops = this.#options.members().filter((member) => !except.includes(member)).map((
      member,
    ) =>
      new Promise<UpstreamValue>((resolve, reject) => {
        // Never retried elsewhere: the drop is for this member only.
        const request = { id: 0, group, key, op: ItemOp.REMOVE, local: true, retried: true };
        const drop = { ...request, member, redirects: 0, deadline: options.deadline };
        this.#options.sendTo(member, { ...drop, resolve, reject });
      }).catch((error) => {
        this.#options.failOver.dropFailed(member, write);
        this.#options.dropFailed(member, error);
      })
    );
    await Promise.all(drops);
  }
}
