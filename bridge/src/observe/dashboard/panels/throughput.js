import { rollingChart } from '../chart.js';

let chart;
export default {
  id: 'throughput',
  title: 'Throughput (per second)',
  mount(body) {
    chart = rollingChart(body, [
      { label: 'readings in', stroke: '#58a6ff', fill: 'rgba(88,166,255,.08)' },
      { label: 'batches in', stroke: '#bc8cff' },
      { label: 'confirmed out', stroke: '#3fb950' },
    ]);
  },
  update(s) {
    // The first snapshot has no previous one to diff against.
    if (s.rates.readings === undefined) return;
    chart.push(s.at, [s.rates.readings, s.rates.batches ?? 0, s.rates.forwarded ?? 0]);
  },
};
