/**
 * {@linkcode ByteView}: the immutable value a group hands out.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * An immutable view of a cached value. The cache hands the same view to every
 * reader, so it never exposes its bytes for writing: {@linkcode ByteView.bytes}
 * returns a copy.
 *
 * @example Read a value as text and as bytes
 * ```ts
 * import assert from "node:assert/strict";
 * import { ByteView } from "@mccache/core";
 *
 * const view = ByteView.from("héllo");
 * assert(view.text() === "héllo");
 * assert(view.length === 6);
 * const copy = view.bytes();
 * copy[0] = 0;
 * assert(view.text() === "héllo");
 * ```
 */
export class ByteView {
  #bytes: Uint8Array<ArrayBuffer>;
  #text: string | undefined;

  private constructor(bytes: Uint8Array<ArrayBuffer>, text: string | undefined) {
    this.#bytes = bytes;
    this.#text = text;
  }

  /**
   * Makes a view of `value`. Bytes are copied, so later changes by the caller
   * do not reach the cache; a string is stored as UTF-8.
   *
   * @example From bytes
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteView } from "@mccache/core";
   *
   * const bytes = new Uint8Array([1, 2, 3]);
   * const view = ByteView.from(bytes);
   * bytes[0] = 9;
   * assert(view.at(0) === 1);
   * ```
   */
  static from(value: Uint8Array | string): ByteView {
    if (typeof value === "string") return new ByteView(encoder.encode(value), value);
    return new ByteView(value.slice(), undefined);
  }

  /**
   * Wraps `bytes` without copying. Only for bytes nobody else holds (e.g. a
   * buffer the caller just decoded and will drop).
   *
   * @example Wrap a fresh buffer
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteView } from "@mccache/core";
   *
   * const view = ByteView.adopt(new TextEncoder().encode("abc"));
   * assert(view.text() === "abc");
   * ```
   */
  static adopt(bytes: Uint8Array<ArrayBuffer>): ByteView {
    return new ByteView(bytes, undefined);
  }

  /** The number of bytes in the value. */
  get length(): number {
    return this.#bytes.length;
  }

  /**
   * Returns the byte at `index`, or `undefined` outside the value.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteView } from "@mccache/core";
   *
   * assert(ByteView.from("A").at(0) === 65);
   * ```
   */
  at(index: number): number | undefined {
    return this.#bytes[index];
  }

  /**
   * Returns a copy of the bytes, safe to modify.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteView } from "@mccache/core";
   *
   * assert(ByteView.from("ab").bytes().length === 2);
   * ```
   */
  bytes(): Uint8Array<ArrayBuffer> {
    return this.#bytes.slice();
  }

  /**
   * Returns the value decoded as UTF-8 (invalid sequences become U+FFFD).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteView } from "@mccache/core";
   *
   * assert(ByteView.from("156").text() === "156");
   * ```
   */
  text(): string {
    return this.#text ??= decoder.decode(this.#bytes);
  }

  /**
   * Returns the bytes without copying, for adapters that write them out
   * (a socket, a protobuf message). Never modify the result: every reader of
   * this key shares it.
   *
   * @example Write a value to a stream without a copy
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteView } from "@mccache/core";
   *
   * const view = ByteView.from("abc");
   * const body = new Response(view.unsafeBytes());
   * assert((await body.text()) === "abc");
   * ```
   */
  unsafeBytes(): Uint8Array<ArrayBuffer> {
    return this.#bytes;
  }

  /**
   * Reports whether `other` holds the same bytes.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ByteView } from "@mccache/core";
   *
   * assert(ByteView.from("a").equals(ByteView.from("a")));
   * ```
   */
  equals(other: ByteView | Uint8Array | string): boolean {
    const b = other instanceof ByteView
      ? other.#bytes
      : typeof other === "string"
      ? encoder.encode(other)
      : other;
    const a = this.#bytes;
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  /** Returns {@linkcode ByteView.text}, so a view prints as its value. */
  toString(): string {
    return this.text();
  }
}
