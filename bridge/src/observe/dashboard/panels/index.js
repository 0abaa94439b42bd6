// The dashboard's panels, in page order. A panel is a module exporting
//   { id, title, wide?, mount(bodyElement), update(snapshot) }
// where snapshot is one live feed message (`at`, one field per LiveFeed source,
// e.g. status, totals, store, amqp, devices) plus `rates` (per-second deltas of
// `totals`). To add a panel fed from a new source: LiveFeed.addSource('name', fn)
// in pipeline.ts, a file here that reads snapshot.name, and one line below.
import overview from './overview.js';
import throughput from './throughput.js';
import backlog from './backlog.js';
import connections from './connections.js';
import devices from './devices.js';
import queues from './queues.js';

export const panels = [overview, throughput, backlog, connections, queues, devices];
