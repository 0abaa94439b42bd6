// Reads one series from the bridge's /metrics text: the public seam tests use to see what
// the bridge counts, instead of reaching into its parts.

/** The value of `name{labels}` (labels matched exactly, in any order); 0 when the series is absent. */
export async function metric(source: { metricsText(): Promise<string> }, name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricIn(await source.metricsText(), name, labels);
}

export function metricIn(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).sort().join(',');
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = (m[2] ?? '').split(/,(?=[a-zA-Z_]+=")/).filter(Boolean).sort().join(',');
    if (got === want) return Number(m[3]);
  }
  return 0;
}

/** The sum of every series of `name` (all label values). */
export async function metricSum(source: { metricsText(): Promise<string> }, name: string): Promise<number> {
  let sum = 0;
  for (const line of (await source.metricsText()).split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) sum += Number(m[2]);
  }
  return sum;
}
