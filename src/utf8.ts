// UTF-8 helpers that avoid allocating: the hot paths (key validation, ring
// lookups, LRU sizing) run once per request.

/** Returns the number of bytes `s` takes in UTF-8 (lone surrogates count as U+FFFD, 3 bytes). */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) {
      n += 1;
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      // A valid pair is 4 bytes for 2 units; a lone surrogate is U+FFFD, 3 bytes.
      n += 2;
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    } else {
      n += 2;
    }
  }
  return n;
}

let scratch = new Uint8Array(256);

/**
 * Encodes `s` as `TextEncoder` would (lone surrogates become U+FFFD) into a
 * buffer shared by every call, and returns a view of it: valid only until the
 * next call. Hashing a key this way allocates only that view.
 */
export function utf8Scratch(s: string): Uint8Array {
  if (scratch.length < s.length * 3) scratch = new Uint8Array(s.length * 3);
  const out = scratch;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      out[n++] = c;
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      } else {
        c = 0xfffd;
      }
    }
    if (c < 0x800) {
      out[n++] = 0xc0 | (c >> 6);
    } else if (c < 0x10000) {
      out[n++] = 0xe0 | (c >> 12);
      out[n++] = 0x80 | ((c >> 6) & 0x3f);
    } else {
      out[n++] = 0xf0 | (c >> 18);
      out[n++] = 0x80 | ((c >> 12) & 0x3f);
      out[n++] = 0x80 | ((c >> 6) & 0x3f);
    }
    out[n++] = 0x80 | (c & 0x3f);
  }
  return out.subarray(0, n);
}
