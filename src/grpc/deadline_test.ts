// Deadlines without sockets: the op sanitizer is on, so a timer left
// running by clear() fails these tests.
import assert from "node:assert/strict";
import { deadline, deadlineOf, deadlineSignal } from "./deadline.ts";

Deno.test("deadline() aborts with a TimeoutError when its time passes", async () => {
  const { signal } = deadline(5);
  await new Promise((resolve) => signal.addEventListener("abort", resolve));
  assert.equal((signal.reason as DOMException).name, "TimeoutError");
});

Deno.test("deadline() follows its parent's abort and earlier deadline until cleared", async (t) => {
  await t.step("the parent aborts first", () => {
    const parent = new AbortController();
    const child = deadline(60_000, parent.signal);
    parent.abort(new Error("caller left"));
    assert.equal((child.signal.reason as Error).message, "caller left");
    child.clear();
  });
  await t.step("the parent's deadline is earlier", () => {
    const parent = deadlineSignal(1000);
    const child = deadline(60_000, parent);
    assert.ok(deadlineOf(child.signal)! <= deadlineOf(parent)!);
    child.clear();
  });
  await t.step("after clear, neither the timer nor the parent aborts it", () => {
    const parent = new AbortController();
    const child = deadline(1, parent.signal);
    child.clear();
    parent.abort();
    assert.equal(child.signal.aborted, false);
  });
});
