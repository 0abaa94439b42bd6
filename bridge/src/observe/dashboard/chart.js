// A rolling time-series chart on uPlot (window.uPlot, loaded by index.html).
const POINTS = 300;

/**
 * series: [{ label, stroke, scale? }]; scales: optional uPlot scales/axes for a second y axis.
 * Returns { push(atMs, values[]) }.
 */
export function rollingChart(container, series, { height = 220, axes } = {}) {
  const data = [[], ...series.map(() => [])];
  const width = () => Math.max(300, container.clientWidth);
  const opts = {
    width: width(),
    height,
    cursor: { drag: { x: false, y: false } },
    legend: { live: true },
    scales: { x: { time: true } },
    axes: axes ?? [
      { stroke: '#8a97a8', grid: { stroke: '#263140' }, ticks: { stroke: '#263140' } },
      { stroke: '#8a97a8', grid: { stroke: '#263140' }, ticks: { stroke: '#263140' }, size: 60 },
    ],
    series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2, scale: s.scale ?? 'y', fill: s.fill, value: (u, v) => (v === null || v === undefined ? '–' : v.toFixed(s.digits ?? 1)) }))],
  };
  const plot = new window.uPlot(opts, data, container);
  new ResizeObserver(() => plot.setSize({ width: width(), height })).observe(container);
  return {
    push(atMs, values) {
      data[0].push(atMs / 1000);
      values.forEach((v, i) => data[i + 1].push(v));
      if (data[0].length > POINTS) for (const col of data) col.shift();
      plot.setData(data);
    },
  };
}
