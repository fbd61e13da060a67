// /metrics read with parse-prometheus-text-format. It flattens a histogram
// into one series and drops its labels (it handles unlabelled ones only), so
// each labelled histogram series is parsed again on its own, labels aside.
import parsePrometheusTextFormat from "parse-prometheus-text-format";

/** One metric family as the parser returns it. */
export interface Family {
  name: string;
  help?: string;
  type: string;
  metrics: Sample[];
}

/** One series: `value` for counters and gauges, `count`, `sum` and `buckets` for histograms. */
export interface Sample {
  value?: string;
  labels?: Record<string, string>;
  count?: string;
  sum?: string;
  buckets?: Record<string, string>;
}

/** Fetches and parses `http://<addr>/metrics`. */
export async function scrapeMetrics(addr: string): Promise<Family[]> {
  const response = await fetch(`http://${addr}/metrics`);
  if (!response.ok) throw new Error(`GET http://${addr}/metrics answered ${response.status}`);
  return parseMetrics(await response.text());
}

/** Parses exposition text; histograms keep one sample per label set. */
export function parseMetrics(text: string): Family[] {
  const families = parsePrometheusTextFormat(text) as Family[];
  for (const family of families) {
    if (family.type === "HISTOGRAM") family.metrics = histogramSeries(text, family.name);
  }
  return families;
}

const SERIES = /^(\w+?)(_bucket|_sum|_count)(?:\{(.*)\})? (\S+)$/;

function histogramSeries(text: string, name: string): Sample[] {
  const groups = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const match = SERIES.exec(line);
    if (!match || match[1] !== name) continue;
    const [, , suffix, labels = "", value] = match;
    const le = /(?:^|,)le="([^"]*)"/.exec(labels)?.[1];
    const rest = labels.replace(/(?:^|,)le="[^"]*"/, "").replace(/^,/, "");
    const lines = groups.get(rest) ?? [];
    lines.push(`${name}${suffix}${le === undefined ? "" : `{le="${le}"}`} ${value}`);
    groups.set(rest, lines);
  }
  return [...groups].map(([labels, lines]) => {
    const [sample] = (parsePrometheusTextFormat(
      `# TYPE ${name} histogram\n${lines.join("\n")}\n`,
    ) as Family[])[0].metrics;
    return labels === "" ? sample : { ...sample, labels: labelsOf(labels) };
  });
}

// The labels of a series, read by the parser from a gauge line that carries them.
function labelsOf(labels: string): Record<string, string> {
  const [family] = parsePrometheusTextFormat(`# TYPE l gauge\nl{${labels}} 0\n`) as Family[];
  return family.metrics[0].labels ?? {};
}

/** The sum over the series of `name` whose labels include `labels` (values, or histogram counts). */
export function metricTotal(
  families: Family[],
  name: string,
  labels: Record<string, string> = {},
): number {
  const family = families.find((f) => f.name === name);
  if (family === undefined) throw new Error(`No metric ${name}`);
  return family.metrics
    .filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
    .reduce((n, m) => n + Number(m.value ?? m.count ?? 0), 0);
}
