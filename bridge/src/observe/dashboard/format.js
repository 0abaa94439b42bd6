// Small formatting helpers shared by the panels.
export const num = (n, digits = 0) =>
  n === null || n === undefined || Number.isNaN(n) ? '–' : Number(n).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function bytes(n) {
  if (!Number.isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function duration(ms) {
  if (!Number.isFinite(ms) || ms <= 0) return '0 s';
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  return `${(s / 86400).toFixed(1)} d`;
}

export const ago = (t, now) => (t ? `${duration(now - t)} ago` : 'never');

/** Creates an element with attributes and children. */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

/** A stat tile: returns the element and a setter for its value. */
export function stat(id, label) {
  const value = el('div', { class: 'value', id: `stat-${id}`, 'data-testid': `stat-${id}`, text: '–' });
  const box = el('div', { class: 'stat' }, value, el('div', { class: 'label', text: label }));
  return { box, set(text, level = '') { value.textContent = text; box.className = `stat ${level}`; } };
}
