// The gateway's status page in a real browser (Debian's Chromium, driven by
// playwright-core) against a real 3-node cluster on etcd: it shows the
// members, looks up a key, sees a killed node leave, logs no script errors,
// and leaves a screenshot in the test's temp dir (kept, for people to look
// at; its path is printed). grpc-js keeps timers after its channels close,
// so sanitizers are off.
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { HashRing } from "../mod.ts";
import { startEtcd } from "../src/_testing/etcd.ts";
import { chromiumInstalled, launchChromium, watchPageErrors } from "./_browser.ts";
import { Origin, startGatewayProcess, startNodeProcess } from "./_cluster.ts";

// Rows of the members table: address and whether it shows healthy.
async function memberRows(page: Page): Promise<{ addr: string; healthy: boolean }[]> {
  const rows = page.locator("#members tbody tr");
  const found = [];
  for (let i = 0; i < await rows.count(); i++) {
    const row = rows.nth(i);
    found.push({
      addr: await row.getAttribute("data-addr") ?? "",
      healthy: await row.getAttribute("data-healthy") === "true",
    });
  }
  return found;
}

// The row of a member shown healthy. Waits use locators, not page-side
// functions: the page's Content-Security-Policy forbids evaluating strings.
function healthyRow(page: Page, addr?: string) {
  const member = addr === undefined ? "" : `[data-addr="${addr}"]`;
  return page.locator(`#members tbody tr${member}[data-healthy="true"]`);
}

Deno.test({
  name: "The status page shows 3 members, looks up a key, and sees a killed node leave within 5 s",
  ignore: !chromiumInstalled(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using etcd = await startEtcd();
    await using origin = new Origin();
    for (let i = 0; i < 20; i++) origin.values.set(`k${i}`, `value ${i}`);
    const args = ["--etcd", etcd.endpoint, "--origin", `v=${origin.url}`, "--lease-ttl", "1"];
    await using a = await startNodeProcess(args);
    await using b = await startNodeProcess(args);
    await using c = await startNodeProcess(args);
    await using gateway = await startGatewayProcess(["--etcd", etcd.endpoint]);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
      const errors = watchPageErrors(page);
      await page.goto(`http://${gateway.addr}/`);

      await healthyRow(page).nth(2).waitFor();
      const addrs = [a.addr, b.addr, c.addr].sort();
      assert.deepEqual((await memberRows(page)).map((row) => row.addr), addrs);

      const ring = new HashRing();
      ring.add(...addrs);
      await page.waitForSelector('#lookup-group option[value="v"]', { state: "attached" });
      await page.selectOption("#lookup-group", "v");
      await page.fill("#lookup-key", "k7");
      await page.click("#lookup button");
      await page.waitForSelector('#lookup-result [data-field="value"]');
      assert.equal(await page.textContent('[data-field="owner"]'), ring.get("k7"));
      assert.equal(await page.textContent('[data-field="value"]'), "value 7");

      const killedAt = Date.now();
      await c.signal("SIGKILL");
      await healthyRow(page, c.addr).waitFor({ state: "detached", timeout: 5000 });
      const downAfter = Date.now() - killedAt;
      // Shown down at once; gone from the list once etcd expires its lease.
      const row = page.locator(`#members tbody tr[data-addr="${c.addr}"]`);
      await row.waitFor({ state: "detached", timeout: Math.max(1, 5000 - downAfter) });
      const leftAfter = Date.now() - killedAt;
      assert.ok(leftAfter < 5000, `left after ${leftAfter} ms`);
      assert.equal(await healthyRow(page).count(), 2);
      const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "mccache-status-page-" });
      const screenshot = `${dir}/status.png`;
      await page.screenshot({ path: screenshot, fullPage: true });
      assert.ok(Deno.statSync(screenshot).size > 10_000);
      console.log(
        `status page screenshot: ${screenshot} (node down after ${downAfter} ms, gone after ${leftAfter} ms)`,
      );
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  },
});
