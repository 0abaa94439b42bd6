export { escapeLevel, unescapeWord, topicToKey, keyToTopic } from './escape.ts';
export {
  DEFAULT_RULE,
  MAX_KEY_BYTES,
  RoutingRuleError,
  compileRule,
  checkKey,
  type RoutingRule,
  type SplitMode,
  type CompiledRule,
} from './rules.ts';
export { Router, type RouteResult, type RouterOptions, type ContentType } from './router.ts';
export { checkRoutes, ruleCanMatch, type RouteReach, type QueueBinding } from './reachability.ts';
