export { ConfirmPool } from './confirm-pool.ts';
export { redactUrl } from '../../observe/redact.ts';
export type { ConfirmPoolOptions, ConnectionInfo, ConnectionState, PoolCounters, PoolState, PublishResult } from './confirm-pool.ts';
export { declareTopology, deleteTopology } from './topology.ts';
export type { QueueSpec, Topology } from './topology.ts';
export { actionFor, EgressError, LinkLostError, PoolClosedError, TopologyError, UnpublishableError } from './errors.ts';
export type { ErrorAction } from './errors.ts';
