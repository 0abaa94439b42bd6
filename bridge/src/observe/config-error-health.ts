// What the HTTP side door serves when `start` was given an invalid config: the
// process stays up, /healthz says alive and /readyz answers 503 with the
// problems, so a supervisor or probe shows why, instead of a restart loop that
// can only fail the same way. Nothing else runs: no ingress, no store, no AMQP.
import { Gauge, Registry } from 'prom-client';
import { bridgeConfigSchema } from '../config/index.ts';
import type { HealthSource, Readiness } from './http.ts';

export class ConfigErrorHealth implements HealthSource {
  private readonly registry = new Registry();

  constructor(readonly problems: string[]) {
    new Gauge({ name: 'edge_ready', help: 'Readiness: 2 ok, 1 degraded (still accepting and buffering), 0 not ready', registers: [this.registry] }).set(0);
    new Gauge({ name: 'edge_config_valid', help: '0 while the bridge waits with an invalid config', registers: [this.registry] }).set(0);
  }

  readiness(): Readiness {
    return { ready: false, degraded: this.problems.map((p) => `config invalid: ${p}`), details: { config: { valid: false, problems: this.problems } } };
  }

  metricsText(): Promise<string> {
    return this.registry.metrics();
  }

  get metricsContentType(): string {
    return this.registry.contentType;
  }
}

/** The `http` section of a config that failed validation, if that section on its own is valid; else the defaults. */
export function httpAddressOf(raw: unknown): { host: string; port: number } {
  const section = raw && typeof raw === 'object' ? (raw as Record<string, unknown>).http : undefined;
  const parsed = bridgeConfigSchema.shape.http.safeParse(section ?? {});
  return parsed.success ? parsed.data : bridgeConfigSchema.shape.http.parse({});
}
