// The status page's HTML and styles: static, no build step, nothing loaded
// from outside (the Content-Security-Policy it is served with enforces
// that). The script is /status.js (_page_script.ts).

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mccache status</title>
<link rel="icon" href="data:,">
<style>
:root { --fg: #1d2330; --muted: #667085; --line: #e4e7ec; --bg: #f7f8fa; --ok: #12805c;
  --bad: #c4320a; --warn: #b54708; --accent: #3554d1; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); }
header { display: flex; align-items: baseline; gap: 16px; padding: 14px 24px;
  background: #fff; border-bottom: 1px solid var(--line); }
header h1 { font-size: 18px; margin: 0; }
header .muted { font-size: 13px; }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px;
  padding: 16px 24px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
section.wide { grid-column: 1 / -1; }
h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted);
  margin: 0 0 10px; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 5px 8px 5px 0; border-bottom: 1px solid var(--line);
  white-space: nowrap; }
th { font-weight: 600; color: var(--muted); font-size: 12px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: var(--muted); }
.dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 6px; }
.up .dot { background: var(--ok); } .down .dot { background: var(--bad); }
.down td { color: var(--bad); }
.bar { display: block; height: 100%; border-radius: 4px; background: var(--accent);
  vertical-align: middle; }
.track { display: inline-block; width: 90px; height: 8px; border-radius: 4px;
  background: var(--line); vertical-align: middle; margin-right: 6px; }
.ring { display: flex; gap: 18px; align-items: center; }
.legend div { margin: 3px 0; } .swatch { display: inline-block; width: 10px; height: 10px;
  border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
.figures { display: flex; gap: 22px; margin-bottom: 8px; }
.figures b { display: block; font-size: 20px; font-variant-numeric: tabular-nums; }
.chart { width: 100%; height: 90px; }
.chart text { font-size: 10px; fill: var(--muted); }
form { display: flex; gap: 8px; flex-wrap: wrap; margin-bottom: 10px; }
input, select, button { font: inherit; padding: 5px 8px; border: 1px solid var(--line);
  border-radius: 6px; background: #fff; }
button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
#lookup-result dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; margin: 0; }
#lookup-result dt { color: var(--muted); } #lookup-result dd { margin: 0; word-break: break-all; }
.error { color: var(--bad); }
#banner { display: none; padding: 8px 24px; background: #fef3f2; color: var(--bad); }
</style>
</head>
<body>
<header>
  <h1>mccache</h1>
  <span id="gateway" class="muted">gateway</span>
  <span id="updated" class="muted"></span>
</header>
<div id="banner" role="alert"></div>
<main>
  <section>
    <h2>Members</h2>
    <table id="members">
      <thead><tr><th>Address</th><th>Protocol</th><th class="num">Ring share</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>Ring</h2>
    <div class="ring"><svg id="ring-chart" width="140" height="140" viewBox="-1.2 -1.2 2.4 2.4"
      role="img" aria-label="Share of the ring per member"></svg><div id="ring-legend"
      class="legend"></div></div>
  </section>
  <section class="wide">
    <h2>Groups</h2>
    <table id="groups">
      <thead><tr><th>Group</th><th class="num">Nodes</th><th class="num">Hit ratio</th>
        <th class="num">Main hits</th><th class="num">Hot hits</th><th>Bytes / budget</th>
        <th class="num">Gets</th><th class="num">Loads</th><th class="num">Peer errors</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>Gateway requests, last minute</h2>
    <div class="figures">
      <div><b id="rps">-</b><span class="muted">req/s</span></div>
      <div><b id="error-rate">-</b><span class="muted">errors (5xx)</span></div>
      <div><b id="p50">-</b><span class="muted">p50</span></div>
      <div><b id="p99">-</b><span class="muted">p99</span></div>
    </div>
    <svg id="rps-chart" class="chart" viewBox="0 0 600 90" preserveAspectRatio="none"
      role="img" aria-label="Requests per second"></svg>
    <svg id="latency-chart" class="chart" viewBox="0 0 600 90" preserveAspectRatio="none"
      role="img" aria-label="p50 and p99 latency"></svg>
  </section>
  <section>
    <h2>Look up a key</h2>
    <form id="lookup">
      <select id="lookup-group" aria-label="Group"></select>
      <input id="lookup-key" placeholder="key" aria-label="Key" required>
      <button type="submit">Look up</button>
    </form>
    <div id="lookup-result" class="muted">Which member owns a key, and its value.</div>
  </section>
</main>
<script src="/status.js"></script>
</body>
</html>
`;
