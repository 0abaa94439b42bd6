import { num, el } from '../format.js';

let tbody;
let summary;
export default {
  id: 'connections',
  title: 'Broker connections',
  mount(body) {
    summary = el('div', { class: 'muted', style: 'margin-bottom:8px' });
    tbody = el('tbody');
    body.append(
      summary,
      el('table', {}, el('thead', {}, el('tr', {}, el('th', { text: '#' }), el('th', { text: 'broker' }), el('th', { text: 'state' }), el('th', { class: 'num', text: 'channels' }), el('th', { class: 'num', text: 'in flight' }))), tbody),
    );
  },
  update(s) {
    const a = s.amqp;
    if (!a || a.error) return;
    const c = a.counters ?? {};
    summary.textContent = `${a.ready ? 'publishing' : 'no open channel: buffering to disk'}${a.blocked ? ' · BLOCKED by a resource alarm' : ''} · confirmed ${num(c.confirmed)} · nacked ${num(c.nacked)} · returned ${num(c.returned)} · reconnects ${num(c.reconnects)}`;
    tbody.replaceChildren(
      ...a.connections.map((conn, i) =>
        el('tr', { 'data-connection': String(i) },
          el('td', { text: String(i) }),
          el('td', { class: 'url', text: conn.url }),
          el('td', { class: `state-${conn.state}`, text: conn.state }),
          el('td', { class: 'num', text: num(conn.channels) }),
          el('td', { class: 'num', text: num(conn.inFlight) }),
        ),
      ),
    );
  },
};
