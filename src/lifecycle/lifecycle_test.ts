import assert from "node:assert/strict";
import { CleanupStack, once } from "./lifecycle.ts";

// A stack whose cleanups record their names, and fail when asked to.
function recordingStack(): {
  stack: CleanupStack;
  closed: string[];
  open: (name: string, fail?: boolean) => void;
} {
  const stack = new CleanupStack();
  const closed: string[] = [];
  const open = (name: string, fail = false) =>
    stack.defer(async () => {
      await Promise.resolve();
      closed.push(name);
      if (fail) throw new Error(`${name} failed to close`);
    });
  return { stack, closed, open };
}

Deno.test("CleanupStack closes what was opened in reverse order, and each thing once", async () => {
  const { stack, closed, open } = recordingStack();
  open("etcd client");
  open("discovery");
  open("server");
  await stack.close();
  await stack.close();
  assert.deepEqual(closed, ["server", "discovery", "etcd client"]);
});

Deno.test("CleanupStack runs every cleanup when one fails, then rethrows the first failure", async () => {
  const { stack, closed, open } = recordingStack();
  open("a");
  open("b", true);
  open("c", true);
  await assert.rejects(stack.close(), /^Error: c failed to close$/);
  assert.deepEqual(closed, ["c", "b", "a"]);
});

Deno.test("CleanupStack.start closes what a failed start-up opened and rethrows the start-up's error", async (t) => {
  await t.step("a start-up that fails half-way", async () => {
    const { stack, closed, open } = recordingStack();
    await assert.rejects(
      stack.start(async () => {
        open("client");
        open("server", true);
        await Promise.resolve();
        throw new Error("Cannot listen on 127.0.0.1:1: address already in use");
      }),
      /address already in use/,
    );
    assert.deepEqual(closed, ["server", "client"]);
  });
  await t.step("a start-up that succeeds keeps everything open until close", async () => {
    const { stack, closed, open } = recordingStack();
    const value = await stack.start(() => {
      open("server");
      return 42;
    });
    assert.equal(value, 42);
    assert.deepEqual(closed, []);
    await stack.close();
    assert.deepEqual(closed, ["server"]);
  });
});

Deno.test("once runs its function on the first call and hands every caller that call's promise", async () => {
  let runs = 0;
  let finish!: () => void;
  const stop = once(() => {
    runs++;
    return new Promise<void>((resolve) => finish = resolve);
  });
  const first = stop();
  const second = stop();
  assert.equal(first, second);
  finish();
  await Promise.all([first, second, stop()]);
  assert.equal(runs, 1);
});
