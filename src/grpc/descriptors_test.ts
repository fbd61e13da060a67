import assert from "node:assert/strict";
import { OUTPUT, render } from "../../proto/generate.ts";

Deno.test("The embedded descriptors match proto/*.proto (run proto/generate.ts if not)", () => {
  assert.equal(Deno.readTextFileSync(OUTPUT), render());
});
