// Router: one decoded batch -> the AMQP messages it becomes (PROTOCOL.md 9, 11).
// Rules are an ordered list; the first whose filter matches the topic wins.
// Filters are compiled once; the match for a topic is cached, so the hot path is
// a Map lookup, a string concatenation and (for canonical msgpack) no re-encode.
import type { Batch, OutboundMessage, RawMessage, Reading } from '../types.ts';
import { encodeBatch, encodeBatchJson, isCanonicalBatch } from '../codec/index.ts';
import { escapeLevel, topicToKey } from './escape.ts';
import { checkKey, compileRule, matchFilter, RoutingRuleError, type CompiledRule, type KeyPart, type RoutingRule } from './rules.ts';

export type ContentType = OutboundMessage['contentType'];

export interface RouterOptions {
  contentType: ContentType;
}

export type RouteResult =
  | { ok: true; messages: OutboundMessage[] }
  | { ok: false; reason: 'no_rule' | 'bad_key'; detail: string };

interface TopicMatch {
  rule: CompiledRule;
  captures: string[];
  /** Escaped topic words joined with `.`; only computed when the key uses {topic}. */
  topicKey: string;
  usesFw: boolean;
  /** The checked key when it depends on the topic alone (split none, no {device} or {fw}). */
  fixedKey: string | undefined;
}

/** Topics are few (one or two per device); the bound only guards against a flood of distinct ones. */
const CACHE_LIMIT = 10_000;

export class Router {
  private readonly rules: CompiledRule[];
  private readonly cache = new Map<string, TopicMatch | null>();

  /** Throws RoutingRuleError (message prefixed with the rule's index) for a rule that cannot work. */
  constructor(
    rules: readonly RoutingRule[],
    private readonly opts: RouterOptions,
  ) {
    this.rules = rules.map((rule, i) => {
      try {
        return compileRule(rule);
      } catch (err) {
        if (err instanceof RoutingRuleError) throw new RoutingRuleError(err.field, `rules[${i}].${err.field}: ${err.message}`);
        throw err;
      }
    });
  }

  /**
   * `canonical`: the decoder already knows whether msg.payload is the canonical
   * encoding of `batch` (decodeBatch's flag); undefined means check here.
   */
  route(msg: RawMessage, batch: Batch, canonical?: boolean): RouteResult {
    const m = this.match(msg.topic);
    if (!m) return { ok: false, reason: 'no_rule', detail: `no routing rule matches topic "${msg.topic}"` };
    const { rule } = m;
    const baseId = `${batch.device}:${batch.boot}:${batch.seq}`;

    if (rule.rule.split === 'none') {
      // A key of literals, captures and {topic} only is the same for every batch on this topic.
      let routingKey = m.fixedKey;
      if (routingKey === undefined) {
        routingKey = buildKey(rule.key, m, escapeLevel(batch.device), m.usesFw ? escapeLevel(batch.fw) : '', '');
        const bad = checkKey(routingKey);
        if (bad) return badKey(rule, bad);
      }
      const body =
        this.opts.contentType === 'application/msgpack' && (canonical ?? isCanonicalBatch(msg.payload, batch)) ? msg.payload : this.encode(batch);
      const headers = { 'x-device': batch.device, 'x-boot': batch.boot, 'x-seq': batch.seq, 'x-fw': batch.fw, 'x-topic': msg.topic };
      return { ok: true, messages: [this.message(routingKey, baseId, batch.device, headers, body, msg.receivedAt)] };
    }

    const device = escapeLevel(batch.device);
    const fw = escapeLevel(batch.fw);
    const parts = rule.rule.split === 'sensor' ? groupBySensor(batch.readings) : batch.readings.map((r) => [r]);
    const messages: OutboundMessage[] = new Array(parts.length);
    for (let i = 0; i < parts.length; i++) {
      const readings = parts[i]!;
      const routingKey = buildKey(rule.key, m, device, fw, escapeLevel(readings[0]!.sensor));
      const bad = checkKey(routingKey);
      // All or nothing: a batch is stored whole or quarantined whole.
      if (bad) return badKey(rule, `part ${i}: ${bad}`);
      const body = this.encode({ ...batch, readings });
      const headers = { 'x-device': batch.device, 'x-boot': batch.boot, 'x-seq': batch.seq, 'x-fw': batch.fw, 'x-topic': msg.topic, 'x-part': i };
      messages[i] = this.message(routingKey, `${baseId}:${i}`, batch.device, headers, body, msg.receivedAt);
    }
    return { ok: true, messages };
  }

  private match(topic: string): TopicMatch | null {
    let m = this.cache.get(topic);
    if (m !== undefined) return m;
    m = null;
    const levels = topic.split('/');
    for (const rule of this.rules) {
      const captures = matchFilter(rule.filter, levels);
      if (captures) {
        m = { rule, captures, topicKey: rule.usesTopic ? topicToKey(topic) : '', usesFw: rule.key.some((p) => p.kind === 'fw'), fixedKey: undefined };
        if (rule.rule.split === 'none' && !m.usesFw && !rule.key.some((p) => p.kind === 'device')) {
          const key = buildKey(rule.key, m, '', '', '');
          // A bad fixed key stays uncached, so each batch is checked and quarantined with the reason.
          if (!checkKey(key)) m.fixedKey = key;
        }
        break;
      }
    }
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(topic, m);
    return m;
  }

  private encode(batch: Batch): Buffer {
    return this.opts.contentType === 'application/json' ? encodeBatchJson(batch) : encodeBatch(batch);
  }

  private message(
    routingKey: string,
    messageId: string,
    device: string,
    headers: Record<string, string | number>,
    body: Buffer,
    acceptedAt: number,
  ): OutboundMessage {
    return { routingKey, messageId, device, contentType: this.opts.contentType, headers, body, acceptedAt };
  }
}

function buildKey(parts: readonly KeyPart[], m: TopicMatch, device: string, fw: string, sensor: string): string {
  let key = '';
  for (const p of parts) {
    switch (p.kind) {
      case 'literal': key += p.text; break;
      case 'capture': key += m.captures[p.index] ?? ''; break;
      case 'device': key += device; break;
      case 'sensor': key += sensor; break;
      case 'fw': key += fw; break;
      case 'topic': key += m.topicKey; break;
    }
  }
  return key;
}

/** Readings grouped by sensor, groups in order of each sensor's first appearance. */
function groupBySensor(readings: readonly Reading[]): Reading[][] {
  const groups = new Map<string, Reading[]>();
  for (const r of readings) {
    const g = groups.get(r.sensor);
    if (g) g.push(r);
    else groups.set(r.sensor, [r]);
  }
  return [...groups.values()];
}

function badKey(rule: CompiledRule, detail: string): RouteResult {
  const name = rule.rule.name ? `rule "${rule.rule.name}"` : `rule ${rule.rule.filter} -> ${rule.rule.key}`;
  return { ok: false, reason: 'bad_key', detail: `${name}: ${detail}` };
}
