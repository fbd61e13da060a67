// The core as a library, in one process: `deno run examples/library.ts`.
import { Group, NotFoundError } from "../mod.ts";

const db = new Map([["Tom", "630"], ["Jack", "589"], ["Sam", "567"]]);
let slowLoads = 0;

const scores = new Group({
  name: "scores",
  maxBytes: 2 << 10,
  getter: async (key) => {
    slowLoads++;
    await new Promise((resolve) => setTimeout(resolve, 10)); // a slow database
    const value = db.get(key);
    if (value === undefined) throw new NotFoundError(`${key} not exist`);
    return value;
  },
});

// 100 concurrent readers of one key cause one load.
const views = await Promise.all(Array.from({ length: 100 }, () => scores.get("Tom")));
console.log(`Tom = ${views[0].text()} (${slowLoads} load for 100 readers)`);
try {
  await scores.get("Nobody");
} catch (error) {
  console.log(`Nobody: ${(error as Error).name}: ${(error as Error).message}`);
}
console.log("stats:", JSON.stringify(scores.stats()));
