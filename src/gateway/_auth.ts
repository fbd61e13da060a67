// Bearer tokens for the gateway's writes (and, optionally, reads).

const encoder = new TextEncoder();

/**
 * Returns a check of a request's `Authorization: Bearer <token>` against
 * `token`, in time that depends on neither where the two first differ nor
 * the length of what was sent, so that timing tells an attacker nothing of
 * the token's bytes.
 */
export function bearerCheck(token: string): (request: Request) => boolean {
  if (token === "") throw new RangeError("Cannot check tokens: the token is empty");
  const expected = encoder.encode(`Bearer ${token}`);
  return (request) => {
    const given = encoder.encode(request.headers.get("authorization") ?? "");
    // Always as many steps as the expected value has bytes.
    let difference = given.length ^ expected.length;
    for (let i = 0; i < expected.length; i++) difference |= expected[i] ^ (given[i] ?? 0);
    return difference === 0;
  };
}
