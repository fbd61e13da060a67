import assert from "node:assert/strict";
import { consoleLogger } from "./logger.ts";
import { formatBytes, formatSummary, listMembers } from "./summary.ts";

// The lines a logger writes, caught from console.error.
function captured(write: () => void): string[] {
  const lines: string[] = [];
  const original = console.error;
  console.error = (line: string) => lines.push(line);
  try {
    write();
  } finally {
    console.error = original;
  }
  return lines;
}

Deno.test("consoleLogger quotes and escapes string values in text, so a value cannot forge a field", () => {
  const [line] = captured(() =>
    consoleLogger("info", "node a").warn("Member left", {
      member: "127.0.0.1:8002",
      reason: "gone away\nFAKE line=1",
      members: 2,
      tls: false,
      skipped: undefined,
    })
  );
  assert.match(line, /^\d{4}-\d\d-\d\dT[\d:.]+Z WARN \[node a\] Member left /);
  assert.ok(
    line.endsWith(
      ' member="127.0.0.1:8002" reason="gone away\\nFAKE line=1" members=2 tls=false',
    ),
    line,
  );
});

Deno.test("consoleLogger writes one JSON object per line with --log-format json", () => {
  const lines = captured(() => {
    const log = consoleLogger("info", "gateway", "json");
    log.debug("dropped");
    log.info("gateway started", { addr: "127.0.0.1:9999", members: 3, msg: "a field" });
    log.error("failed", { error: new Error("boom") });
  });
  assert.equal(lines.length, 2);
  const [started, failed] = lines.map((line) => JSON.parse(line));
  assert.deepEqual({ ...started, time: undefined }, {
    time: undefined,
    level: "info",
    logger: "gateway",
    msg: "gateway started",
    addr: "127.0.0.1:9999",
    members: 3,
    "field.msg": "a field",
  });
  assert.ok(!Number.isNaN(Date.parse(started.time)));
  assert.equal(failed.error, "boom");
});

Deno.test("formatSummary aligns labels; formatBytes and listMembers stay short", () => {
  assert.equal(
    formatSummary("t", [["a", "1\n2"], ["long", "3"]]),
    "t\n  a     1\n        2\n  long  3",
  );
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(201326592), "192 MiB");
  assert.equal(listMembers([]), "0");
  assert.equal(listMembers(["a"]), "1: a");
});
