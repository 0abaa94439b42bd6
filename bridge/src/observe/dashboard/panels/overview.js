import { num, bytes, duration, stat } from '../format.js';

const tiles = {};
export default {
  id: 'overview',
  title: 'Overview',
  wide: true,
  mount(body) {
    const grid = document.createElement('div');
    grid.className = 'stats';
    const add = (id, label) => {
      tiles[id] = stat(id, label);
      grid.append(tiles[id].box);
    };
    add('devices-online', 'devices online');
    add('readings-rate', 'readings / s in');
    add('forwarded-rate', 'messages / s confirmed');
    add('readings', 'readings accepted');
    add('forwarded', 'messages confirmed');
    add('backlog', 'store backlog (records)');
    add('backlog-age', 'oldest record');
    add('gaps', 'seq gaps');
    add('drops', 'node-reported drops');
    add('upstream-gaps', 'dropped by the external broker');
    add('quarantined', 'quarantined');
    body.append(grid);
  },
  update(s) {
    const t = s.totals ?? {};
    tiles['devices-online'].set(`${num(t.devicesOnline)} / ${num(t.devicesKnown)}`);
    tiles['readings-rate'].set(num(s.rates.readings ?? 0, 1));
    tiles['forwarded-rate'].set(num(s.rates.forwarded ?? 0, 1));
    tiles.readings.set(num(t.readings));
    tiles.forwarded.set(num(t.forwarded));
    const st = s.store ?? {};
    tiles.backlog.set(`${num(st.records)} · ${bytes(st.bytes)}`, st.records > 0 && st.oldestAgeMs > 5000 ? 'warn' : '');
    tiles['backlog-age'].set(st.records > 0 ? duration(st.oldestAgeMs) : '–', st.oldestAgeMs > 60_000 ? 'warn' : '');
    tiles.gaps.set(num(t.gaps), t.gaps > 0 ? 'warn' : '');
    tiles.drops.set(num(t.drops), t.drops > 0 ? 'warn' : '');
    tiles['upstream-gaps'].set(num(t.upstreamGaps), t.upstreamGaps > 0 ? 'warn' : '');
    tiles.quarantined.set(num(t.quarantined), t.quarantined > 0 ? 'warn' : '');
  },
};
