// The status page's script, served as /status.js: it reads /status.json
// every 2 s and draws the page. Plain browser JavaScript with no build step;
// data from the nodes (group names, keys, values) only ever goes into
// textContent, never into HTML.

export const PAGE_SCRIPT = String.raw`"use strict";
(function () {
  var REFRESH_MS = 2000;
  var COLORS = ["#3554d1", "#12805c", "#b54708", "#7a2ed6", "#0e7090", "#c4320a", "#4e5ba6",
    "#667085"];
  var SVG = "http://www.w3.org/2000/svg";
  var colorOf = {};

  function $(id) { return document.getElementById(id); }
  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    for (var name in attrs) node.setAttribute(name, attrs[name]);
    return node;
  }
  function pct(x) { return x === null || x === undefined ? "-" : (100 * x).toFixed(1) + " %"; }
  function ms(x) { return x === null || x === undefined ? "-" : x < 10 ? x.toFixed(2) + " ms" : x.toFixed(0) + " ms"; }
  function bytes(n) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
  }
  function count(n) { return Number(n).toLocaleString("en-US"); }
  function replaceRows(tbody, rows) {
    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
    rows.forEach(function (row) { tbody.appendChild(row); });
  }
  function cell(text, cls) { return el("td", text, cls); }

  function memberRow(member, i) {
    var row = el("tr", null, member.healthy ? "up" : "down");
    row.dataset.addr = member.addr;
    row.dataset.healthy = String(member.healthy);
    var addr = cell(null);
    addr.appendChild(el("span", null, "dot"));
    addr.appendChild(document.createTextNode(member.addr + (member.healthy ? "" : " (down)")));
    row.appendChild(addr);
    row.appendChild(cell(member.protocol === "geecachepb" ? "Go original" : member.protocol));
    var share = cell(null, "num");
    var track = el("span", null, "track");
    var bar = el("span", null, "bar");
    bar.style.width = (100 * member.ringShare).toFixed(1) + "%";
    bar.style.background = colorOf[member.addr];
    track.appendChild(bar);
    share.appendChild(track);
    share.appendChild(document.createTextNode(pct(member.ringShare)));
    row.appendChild(share);
    return row;
  }

  function drawRing(members) {
    var chart = $("ring-chart");
    var legend = $("ring-legend");
    while (chart.firstChild) chart.removeChild(chart.firstChild);
    while (legend.firstChild) legend.removeChild(legend.firstChild);
    var angle = -Math.PI / 2;
    members.forEach(function (member) {
      var sweep = member.ringShare * 2 * Math.PI;
      if (sweep > 0) {
        var end = angle + Math.min(sweep, 2 * Math.PI - 1e-6);
        var large = sweep > Math.PI ? 1 : 0;
        var d = "M " + Math.cos(angle) * 0.95 + " " + Math.sin(angle) * 0.95 +
          " A 0.95 0.95 0 " + large + " 1 " + Math.cos(end) * 0.95 + " " + Math.sin(end) * 0.95;
        chart.appendChild(svg("path", { d: d, fill: "none", stroke: colorOf[member.addr],
          "stroke-width": "0.3", opacity: member.healthy ? "1" : "0.35" }));
        angle += sweep;
      }
      var line = el("div");
      var swatch = el("span", null, "swatch");
      swatch.style.background = colorOf[member.addr];
      line.appendChild(swatch);
      line.appendChild(document.createTextNode(member.addr + "  " + pct(member.ringShare)));
      legend.appendChild(line);
    });
  }

  function groupRow(group) {
    var row = el("tr");
    row.dataset.group = group.name;
    row.appendChild(cell(group.name));
    row.appendChild(cell(group.nodes, "num"));
    row.appendChild(cell(pct(group.hitRatio), "num"));
    row.appendChild(cell(pct(group.main.hitRatio), "num"));
    row.appendChild(cell(pct(group.hot.hitRatio), "num"));
    var used = cell(null);
    var track = el("span", null, "track");
    var bar = el("span", null, "bar");
    bar.style.width = group.maxBytes > 0
      ? Math.min(100, 100 * group.bytes / group.maxBytes).toFixed(1) + "%" : "0";
    track.appendChild(bar);
    used.appendChild(track);
    used.appendChild(document.createTextNode(bytes(group.bytes) + " / " +
      (group.maxBytes > 0 ? bytes(group.maxBytes) : "?")));
    row.appendChild(used);
    row.appendChild(cell(count(group.gets), "num"));
    row.appendChild(cell(count(group.loads), "num"));
    row.appendChild(cell(count(group.peerErrors), "num"));
    return row;
  }

  function drawLines(chart, series, lines, unit) {
    while (chart.firstChild) chart.removeChild(chart.firstChild);
    var max = 0;
    lines.forEach(function (line) {
      series.forEach(function (p) { max = Math.max(max, line.value(p) || 0); });
    });
    max = max > 0 ? max * 1.15 : 1;
    var step = 600 / 59;
    var offset = 60 - series.length;
    chart.appendChild(svg("line", { x1: 0, y1: 89, x2: 600, y2: 89, stroke: "#e4e7ec" }));
    lines.forEach(function (line) {
      var points = series.map(function (p, i) {
        return ((offset + i) * step).toFixed(1) + "," + (88 - 80 * (line.value(p) || 0) / max).toFixed(1);
      });
      if (points.length > 1) {
        chart.appendChild(svg("polyline", { points: points.join(" "), fill: "none",
          stroke: line.color, "stroke-width": "2", "vector-effect": "non-scaling-stroke" }));
      }
    });
    var label = svg("text", { x: 4, y: 12 });
    label.textContent = "max " + (unit === "ms" ? ms(max / 1.15) : (max / 1.15).toFixed(1) + " " + unit) +
      "   " + lines.map(function (l) { return l.name; }).join(", ");
    chart.appendChild(label);
  }

  function drawRequests(requests) {
    $("rps").textContent = requests.perSecond.toFixed(1);
    $("error-rate").textContent = pct(requests.errorRate);
    $("p50").textContent = ms(requests.p50Ms);
    $("p99").textContent = ms(requests.p99Ms);
    drawLines($("rps-chart"), requests.series, [
      { name: "req/s", color: "#3554d1", value: function (p) { return p.requests; } },
      { name: "5xx/s", color: "#c4320a", value: function (p) { return p.errors; } },
    ], "/s");
    drawLines($("latency-chart"), requests.series, [
      { name: "p50", color: "#12805c", value: function (p) { return p.p50Ms; } },
      { name: "p99", color: "#b54708", value: function (p) { return p.p99Ms; } },
    ], "ms");
  }

  function syncGroups(groups) {
    var select = $("lookup-group");
    var names = groups.map(function (g) { return g.name; });
    var have = Array.prototype.map.call(select.options, function (o) { return o.value; });
    if (names.join("\n") === have.join("\n")) return;
    var chosen = select.value;
    while (select.firstChild) select.removeChild(select.firstChild);
    names.forEach(function (name) {
      var option = el("option", name);
      option.value = name;
      select.appendChild(option);
    });
    if (names.indexOf(chosen) >= 0) select.value = chosen;
  }

  function draw(report) {
    report.members.forEach(function (m, i) {
      if (!colorOf[m.addr]) colorOf[m.addr] = COLORS[Object.keys(colorOf).length % COLORS.length];
    });
    var healthy = report.members.filter(function (m) { return m.healthy; }).length;
    $("gateway").textContent = "gateway " + report.gateway.addr + " · " + healthy + " of " +
      report.members.length + " members healthy · TLS " + (report.gateway.tls ? "on" : "off");
    $("updated").textContent = "updated " + new Date(report.time).toLocaleTimeString();
    replaceRows(document.querySelector("#members tbody"), report.members.map(memberRow));
    drawRing(report.members);
    replaceRows(document.querySelector("#groups tbody"), report.groups.map(groupRow));
    drawRequests(report.requests);
    syncGroups(report.groups);
  }

  function showBanner(text) {
    var banner = $("banner");
    banner.textContent = text || "";
    banner.style.display = text ? "block" : "none";
  }

  function refresh() {
    fetch("/status.json", { cache: "no-store" }).then(function (response) {
      if (!response.ok) throw new Error("status.json answered " + response.status);
      return response.json();
    }).then(function (report) {
      showBanner("");
      draw(report);
    }, function (error) {
      showBanner("Cannot reach the gateway: " + error.message);
    }).then(function () { setTimeout(refresh, REFRESH_MS); });
  }

  function showLookup(result) {
    var box = $("lookup-result");
    while (box.firstChild) box.removeChild(box.firstChild);
    box.className = "";
    var list = el("dl");
    function field(name, label, value, cls) {
      list.appendChild(el("dt", label));
      var dd = el("dd", value, cls);
      dd.dataset.field = name;
      list.appendChild(dd);
    }
    field("owner", "Owner", result.owner === null ? "no member" : result.owner);
    if (result.node !== undefined) field("node", "Answered by", result.node);
    field("status", "Status", result.status);
    if (result.value !== undefined) {
      field("value", "Value", result.value);
      field("bytes", "Size", bytes(result.valueBytes) + (result.ttlMs ? ", fresh " + ms(result.ttlMs) : ""));
    } else {
      field("error", "Error", result.error, "error");
    }
    box.appendChild(list);
  }

  $("lookup").addEventListener("submit", function (event) {
    event.preventDefault();
    var query = "?group=" + encodeURIComponent($("lookup-group").value) +
      "&key=" + encodeURIComponent($("lookup-key").value);
    fetch("/status.json" + query, { cache: "no-store" }).then(function (response) {
      if (!response.ok) {
        return response.json().then(function (body) {
          return { owner: null, status: response.status, error: body.error };
        });
      }
      return response.json().then(function (report) { return report.lookup; });
    }).then(showLookup, function (error) {
      showLookup({ owner: null, status: 0, error: error.message });
    });
  });

  refresh();
})();
`;
