// Dashboard shell: one card per panel, one SSE stream, every snapshot handed to
// every panel. Panels are listed in panels/index.js; a panel only reads fields
// of the snapshot, so a new live feed source plus a panel file is all it takes.
import { panels } from './panels/index.js';
import { el } from './format.js';

const root = document.getElementById('panels');
const mounted = [];
for (const panel of panels) {
  const body = el('div', { class: 'body' });
  const card = el('section', { class: `card${panel.wide ? ' wide' : ''}`, id: `panel-${panel.id}`, 'data-testid': `panel-${panel.id}` }, el('h2', { text: panel.title }), body);
  root.append(card);
  try {
    panel.mount(body);
    mounted.push(panel);
  } catch (err) {
    body.textContent = `panel failed to start: ${err.message}`;
  }
}

// Per-second rates of the cumulative totals, from consecutive snapshots.
let prev;
function withRates(snap) {
  const rates = {};
  const t = snap.totals ?? {};
  if (prev && snap.at > prev.at) {
    const dt = (snap.at - prev.at) / 1000;
    for (const k of Object.keys(t)) if (typeof t[k] === 'number' && typeof prev.totals?.[k] === 'number') rates[k] = Math.max(0, (t[k] - prev.totals[k]) / dt);
  }
  prev = snap;
  return { ...snap, rates };
}

const statusEl = document.getElementById('status');
const reasonsEl = document.getElementById('reasons');
const feedEl = document.getElementById('feed');
const updatedEl = document.getElementById('updated');

function showStatus(s) {
  if (!s) return;
  statusEl.textContent = s.state;
  statusEl.className = `pill ${s.state.replace(' ', '-')}`;
  reasonsEl.textContent = s.reasons.join(' · ');
}

const events = new EventSource('/events');
events.addEventListener('open', () => {
  feedEl.textContent = 'live';
  feedEl.className = 'feed live';
});
events.addEventListener('error', () => {
  // EventSource reconnects by itself (retry: 2000 from the server).
  feedEl.textContent = 'feed lost, reconnecting';
  feedEl.className = 'feed';
});
events.addEventListener('snapshot', (ev) => {
  const snap = withRates(JSON.parse(ev.data));
  showStatus(snap.status);
  for (const panel of mounted) {
    try {
      panel.update(snap);
    } catch (err) {
      console.error(`panel ${panel.id}:`, err);
    }
  }
  updatedEl.textContent = `updated ${new Date(snap.at).toLocaleTimeString()}`;
});
