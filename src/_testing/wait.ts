// Polling with a deadline, for state that has no event to wait on (a key in
// etcd, a member gone from a ring, a process's output).

/**
 * Polls `check` every 25 ms until it returns a truthy value, and returns it;
 * throws naming `message` (and the last error `check` threw) after `timeout` ms.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  message: string,
  timeout = 10_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeout;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(
    `Timed out after ${timeout} ms: ${message}${last ? ` (last error: ${last})` : ""}`,
  );
}
