// The core runs in browsers, as the README says: mod.ts bundled by
// `deno bundle --platform browser` and imported as an ES module by a page in
// headless Chromium, served from loopback with every other request aborted.
// The page runs tests/_core_checks.ts against the bundle and reports back;
// a script error, a console error or a request off loopback fails the run.
import assert from "node:assert/strict";
import type { Browser, Route } from "playwright-core";
import * as core from "../mod.ts";
import { chromiumInstalled, launchChromium, watchPageErrors } from "./_browser.ts";
import { checkCore, type CoreResults } from "./_core_checks.ts";

const ROOT = new URL("..", import.meta.url).pathname;
// The page's own deadline: a hung script fails the test instead of hanging it.
const PAGE_TIMEOUT_MS = 30_000;
const HTML = `<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>mccache core</title>
<script type="module" src="/page.js"></script></head><body></body></html>`;

// Bundles mod.ts and everything it imports into one browser ES module.
async function bundleCore(dir: string): Promise<string> {
  const output = `${dir}/core.js`;
  const { code, stderr } = await new Deno.Command("deno", {
    args: ["bundle", "--quiet", "--platform", "browser", "--output", output, "mod.ts"],
    cwd: ROOT,
  }).output();
  assert.equal(code, 0, `deno bundle failed: ${new TextDecoder().decode(stderr)}`);
  return await Deno.readTextFile(output);
}

// Serves `files` by path on a free loopback port, recording what was asked.
function serve(files: Record<string, string>, asked: string[]): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const path = new URL(request.url).pathname;
    asked.push(path);
    const body = files[path];
    if (body === undefined) return new Response("not found", { status: 404 });
    const type = path.endsWith(".js") ? "text/javascript" : "text/html";
    return new Response(body, { headers: { "content-type": `${type}; charset=utf-8` } });
  });
}

/** What a page sent to `report`, and the paths it asked the server for. */
interface PageRun {
  report: unknown;
  asked: string[];
}

// Loads a page whose module script is `script` next to the bundle at
// /core.js, and waits for the script to call `report(json)`. Rejects on the
// first page error, console error or request to anywhere but the server.
async function runPage(browser: Browser, bundle: string, script: string): Promise<PageRun> {
  const asked: string[] = [];
  await using server = serve({ "/": HTML, "/core.js": bundle, "/page.js": script }, asked);
  const origin = `http://127.0.0.1:${server.addr.port}`;
  const failed = Promise.withResolvers<never>();
  failed.promise.catch(() => {}); // a failure after the report is read from `errors`
  const fail = (why: string) => failed.reject(new Error(why));
  const reported = Promise.withResolvers<string>();
  const page = await browser.newPage();
  const deadline = setTimeout(
    () => fail(`no report within ${PAGE_TIMEOUT_MS} ms`),
    PAGE_TIMEOUT_MS,
  );
  try {
    const errors = watchPageErrors(page, fail);
    await page.route("**", (route: Route) => {
      const url = route.request().url();
      if (new URL(url).origin === origin) return route.continue();
      fail(`the page asked for ${url}, which is not the loopback server`);
      return route.abort("blockedbyclient");
    });
    await page.exposeFunction("report", (json: string) => reported.resolve(json));
    await Promise.race([page.goto(`${origin}/`), failed.promise]);
    const json = await Promise.race([reported.promise, failed.promise]);
    // A round trip, so that events the page sent before its report are in.
    await page.evaluate("0");
    assert.deepEqual(errors, []);
    return { report: JSON.parse(json), asked };
  } finally {
    clearTimeout(deadline);
    await page.close();
  }
}

// The page's script: the checks' source, called with the bundle's exports.
const CORE_PAGE = `import * as core from "/core.js";
const checkCore = ${checkCore.toString()};
await globalThis.report(JSON.stringify(await checkCore(core)));
`;

Deno.test({
  name: "The core bundled for browsers runs gets, singleflight, set/remove, the ring, errors " +
    "and W-TinyLFU in headless Chromium",
  ignore: !chromiumInstalled(),
  async fn(t) {
    const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "mccache-browser-core-" });
    try {
      const bundle = await bundleCore(dir);
      const browser = await launchChromium();
      try {
        await t.step("the bundle does in the page what the core does under Deno", async () => {
          const { report, asked } = await runPage(browser, bundle, CORE_PAGE);
          assert.deepEqual(asked.toSorted(), ["/", "/core.js", "/page.js"]);
          const inPage = report as CoreResults;
          assertCoreResults(inPage);
          const inDeno = await checkCore(core);
          assert.deepEqual({ ...inPage, userAgent: "" }, { ...inDeno, userAgent: "" });
        });
        await t.step("a page error fails the run", async () => {
          const script = `import "/core.js"; throw new Error("thrown by the page");`;
          await assert.rejects(runPage(browser, bundle, script), /thrown by the page/);
        });
        await t.step("a console error fails the run", async () => {
          const script = `console.error("logged by the page"); await globalThis.report("{}");`;
          await assert.rejects(runPage(browser, bundle, script), /logged by the page/);
        });
        await t.step("a module that fails to import fails the run", async () => {
          const script = `import "node:fs"; await globalThis.report("{}");`;
          await assert.rejects(runPage(browser, bundle, script), /node:fs/);
        });
        await t.step("a request off loopback is aborted and fails the run", async () => {
          const script = `await fetch("http://192.0.2.1/").catch(() => {});
            await globalThis.report("{}");`;
          await assert.rejects(runPage(browser, bundle, script), /192\.0\.2\.1.*not the loopback/);
        });
      } finally {
        await browser.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// What the core must have done in the page, whatever runtime ran it (the
// step then compares every figure, owners included, with Deno's).
function assertCoreResults(inPage: CoreResults): void {
  assert.match(inPage.userAgent, /HeadlessChrome\//);
  assert.deepEqual(inPage.missThenHit, {
    values: ["score of Tom", "score of Tom"],
    getterCalls: 1,
    gets: 2,
    cacheHits: 1,
    localLoads: 1,
  });
  assert.deepEqual(inPage.singleFlight, {
    groupValues: ["k!", "k!", "k!", "k!"],
    groupLoads: 1,
    loads: 4,
    loadsDeduped: 1,
    flightCalls: 1,
    inFlight: 1,
    afterwards: 0,
  });
  assert.deepEqual(inPage.setRemove, {
    stored: "stored",
    afterRemove: "score of Ann",
    getterCalls: 1,
  });
  assert.deepEqual(inPage.ring.members, ["10.0.0.1:8001", "10.0.0.3:8001"]);
  assert.equal(new Set(inPage.ring.owners).size, 3);
  assert.ok(inPage.ring.movedOnlyFromRemoved);
  assert.deepEqual(inPage.errors, {
    notFound: {
      isClass: true,
      isError: true,
      name: "NotFoundError",
      message: "missing not exist",
      http: 404,
    },
    invalidKey: { isClass: true, name: "InvalidKeyError", http: 400 },
  });
  const { default: tinyLfu, lru } = inPage.policy;
  assert.ok(tinyLfu.rejected > 0 && tinyLfu.popularReloads <= 1, JSON.stringify(tinyLfu));
  assert.deepEqual(lru, { popularReloads: 50, rejected: 0 });
}
