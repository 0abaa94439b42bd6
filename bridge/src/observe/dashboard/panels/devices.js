import { num, ago, el } from '../format.js';

let tbody;
let caption;
const columns = [
  ['device', ''], ['online', ''], ['last seen', ''], ['readings / s', 'num'], ['batches', 'num'], ['readings', 'num'], ['gaps', 'num'], ['drops', 'num'], ['boot', 'num'], ['seq', 'num'],
];
export default {
  id: 'devices',
  title: 'Devices',
  wide: true,
  mount(body) {
    caption = el('div', { class: 'muted', style: 'margin-bottom:8px' });
    tbody = el('tbody', { 'data-testid': 'device-rows' });
    const head = el('tr', {}, ...columns.map(([t, cls]) => el('th', { class: cls, text: t })));
    body.append(caption, el('div', { class: 'scroll' }, el('table', {}, el('thead', {}, head), tbody)));
  },
  update(s) {
    const rows = Array.isArray(s.devices) ? s.devices : [];
    const t = s.totals ?? {};
    const known = t.devicesKnown ?? rows.length;
    caption.textContent = `${num(known)} device${known === 1 ? '' : 's'} seen${(t.devicesKnown ?? 0) > rows.length ? `, ${rows.length} most recently seen shown` : ''}`;
    if (rows.length === 0) {
      tbody.replaceChildren(el('tr', {}, el('td', { class: 'empty', colspan: String(columns.length), text: 'no devices yet' })));
      return;
    }
    tbody.replaceChildren(
      ...rows.map((d) =>
        el('tr', { 'data-device': d.device },
          el('td', { class: 'device', text: d.device }),
          el('td', { class: 'online' }, el('span', { class: `dot ${d.online ? 'on' : 'off'}` }), d.online ? 'online' : 'offline'),
          el('td', { class: 'last-seen', text: ago(d.lastSeen, s.at) }),
          el('td', { class: 'num rate', text: num(d.rate, 1) }),
          el('td', { class: 'num batches', text: num(d.batches) }),
          el('td', { class: 'num readings', text: num(d.readings) }),
          el('td', { class: `num gaps${d.gaps ? ' nonzero' : ''}`, text: num(d.gaps) }),
          el('td', { class: `num drops${d.drops ? ' nonzero' : ''}`, text: num(d.drops) }),
          el('td', { class: 'num boot', text: num(d.boot) }),
          el('td', { class: 'num seq', text: num(d.lastSeq) }),
        ),
      ),
    );
  },
};
