// Topic helpers shared by the MQTT ingress transports (PROTOCOL.md section 2).

/** Broker-internal topics; clients may not publish there. */
export function isSysTopic(topic: string): boolean {
  return topic.startsWith('$SYS');
}

/** `<prefix>/<device>/cmd`: the only downlink topic, so the only one worth routing to subscribers. */
export function isCommandTopic(topic: string): boolean {
  return topic.endsWith('/cmd') && topic.length > 4;
}

export function commandTopic(topicPrefix: string, device: string): string {
  return `${topicPrefix}/${device}/cmd`;
}

/** True when `topic` is the cmd topic of `device`, under `topicPrefix` if one is given. */
export function isCommandTopicOf(topic: string, device: string, topicPrefix?: string): boolean {
  if (topicPrefix !== undefined) return topic === commandTopic(topicPrefix, device);
  const suffix = `/${device}/cmd`;
  return topic.endsWith(suffix) && topic.length > suffix.length;
}
