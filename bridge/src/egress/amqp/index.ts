export { ConfirmPool } from './confirm-pool.ts';
export { redactUrl } from '../../observe/redact.ts';
export type { ConfirmPoolOptions, ConnectionInfo, ConnectionState, PoolCounters, PoolState, PublishResult } from './confirm-pool.ts';
export { declareTopology, deleteTopology } from '../../amqp/topology.ts';
export type { QueueSpec, Topology } from '../../amqp/topology.ts';
export { actionFor, EgressError, LinkLostError, PoolClosedError, TopologyError, UnpublishableError } from '../../amqp/errors.ts';
export type { ErrorAction } from '../../amqp/errors.ts';
