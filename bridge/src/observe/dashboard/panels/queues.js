// RabbitMQ queues bound to the bridge's exchange, as the management API reports
// them (snapshot.queues = QueueHealth.report()): each figure coloured by its
// signal's level against the configured thresholds, plus the dead-letter ratio.
import { num, el } from '../format.js';

let summary;
let tbody;
let deadLetter;
const pct = (x) => (x === null || x === undefined ? '–' : `${num(x * 100, 1)} %`);
const cell = (cls, text, level) => el('td', { class: `${cls}${level && level !== 'ok' ? ` level-${level}` : ''}`, text });

export default {
  id: 'queues',
  title: 'RabbitMQ queues',
  wide: true,
  mount(body) {
    summary = el('div', { class: 'muted', style: 'margin-bottom:8px', 'data-testid': 'queues-summary' });
    tbody = el('tbody', { 'data-testid': 'queue-rows' });
    deadLetter = el('div', { class: 'muted', style: 'margin-top:8px', 'data-testid': 'dead-letter' });
    const head = ['queue', 'depth', 'max-length', 'fill', 'consumers', 'unacked', 'publish/s', 'ack/s', 'level'];
    body.append(
      summary,
      el('div', { class: 'scroll' }, el('table', {}, el('thead', {}, el('tr', {}, ...head.map((h, i) => el('th', { class: i > 0 && i < 8 ? 'num' : '', text: h })))), tbody)),
      deadLetter,
    );
  },
  update(s) {
    const r = s.queues;
    if (!r || r.error === undefined) {
      summary.textContent = r && r.enabled === false ? 'queue health is off (queueHealth.enabled: false)' : '';
      return;
    }
    const when = r.checkedAt ? `checked ${new Date(r.checkedAt).toLocaleTimeString()}` : 'not checked yet';
    summary.className = r.reachable ? `level-${r.level}` : 'level-unknown';
    summary.textContent = r.reachable
      ? `${r.level.toUpperCase()} · ${r.queues.length} queue${r.queues.length === 1 ? '' : 's'} · ${when}${r.error ? ` · ${r.error}` : ''}`
      : `management API not available: ${r.error} (${when}); the bridge carries on`;
    if (r.queues.length === 0) {
      tbody.replaceChildren(el('tr', {}, el('td', { class: 'empty', colspan: '9', text: r.reachable ? 'no queues bound to the exchange' : 'unknown' })));
    } else {
      tbody.replaceChildren(
        ...r.queues.map((q) =>
          el('tr', { 'data-queue': q.name },
            el('td', { class: 'name', text: q.name }),
            cell('num messages', num(q.messages), q.signals.depth.level),
            el('td', { class: 'num', text: q.maxLength === null ? '–' : num(q.maxLength) }),
            cell('num fill', pct(q.signals.depth.value), q.signals.depth.level),
            cell('num consumers', num(q.consumers), q.signals.consumers.level),
            cell('num unacked', num(q.unacked), q.signals.unacked.level),
            el('td', { class: 'num', text: num(q.publishRate, 1) }),
            el('td', { class: 'num', text: num(q.ackRate, 1) }),
            cell('level', q.level, q.level),
          ),
        ),
      );
    }
    const d = r.deadLetter;
    deadLetter.className = d ? `level-${d.signal.level}` : 'muted';
    deadLetter.textContent = d
      ? `dead-letter exchange ${d.exchange}: ${d.ratio === null ? d.signal.detail : `${pct(d.ratio)} of published, ${num(d.rate, 2)} msg/s`}${d.signal.level === 'ok' ? '' : ` (${d.signal.level})`}`
      : '';
  },
};
