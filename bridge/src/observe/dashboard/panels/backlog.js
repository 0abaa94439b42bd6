import { rollingChart } from '../chart.js';

let chart;
const axis = { stroke: '#8a97a8', grid: { stroke: '#263140' }, ticks: { stroke: '#263140' } };
export default {
  id: 'backlog',
  title: 'Store backlog',
  mount(body) {
    chart = rollingChart(
      body,
      [
        { label: 'records waiting', stroke: '#d29922', fill: 'rgba(210,153,34,.10)', digits: 0 },
        { label: 'oldest age (s)', stroke: '#f85149', scale: 'age', digits: 1 },
      ],
      { axes: [axis, { ...axis, size: 60 }, { ...axis, scale: 'age', side: 1, grid: { show: false }, size: 50 }] },
    );
  },
  update(s) {
    const st = s.store ?? {};
    chart.push(s.at, [st.records ?? 0, st.records > 0 ? st.oldestAgeMs / 1000 : 0]);
  },
};
