// PROTOCOL.md section 9: an MQTT level becomes one AMQP routing-key word.
// `.`, `*` and `#` are special in AMQP topic keys, `%` is the escape itself;
// escaping all four makes the mapping reversible (unlike RabbitMQ's MQTT plugin).

const SPECIAL = /[%.*#]/;
const SPECIAL_ALL = /[%.*#]/g;
const ESCAPES: Record<string, string> = { '%': '%25', '.': '%2E', '*': '%2A', '#': '%23' };
const ESCAPED_ALL = /%(25|2E|2A|23)/g;
const UNESCAPES: Record<string, string> = { '25': '%', '2E': '.', '2A': '*', '23': '#' };

/** One MQTT topic level -> one routing-key word (never contains `.`, `*` or `#`). */
export function escapeLevel(level: string): string {
  // Hot path: device ids and sensor names never need escaping.
  if (!SPECIAL.test(level)) return level;
  return level.replace(SPECIAL_ALL, (c) => ESCAPES[c] ?? c);
}

/**
 * Inverse of escapeLevel. Decodes in one left-to-right pass so that `%252E`
 * becomes `%2E`, not `.`. A `%` not followed by one of our four codes is left
 * as is (such a word was not produced by escapeLevel).
 */
export function unescapeWord(word: string): string {
  if (!word.includes('%')) return word;
  return word.replace(ESCAPED_ALL, (_m, hex: string) => UNESCAPES[hex] ?? _m);
}

/** Escapes every level of an MQTT topic and joins them with `.` (the default `{topic}` key). */
export function topicToKey(topic: string): string {
  return topic.split('/').map(escapeLevel).join('.');
}

/** Inverse of topicToKey. */
export function keyToTopic(key: string): string {
  return key.split('.').map(unescapeWord).join('/');
}
