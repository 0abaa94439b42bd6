export { bridgeConfigSchema, type BridgeConfig } from './schema.ts';
export { loadConfig, defaultConfig, ConfigError, ENV_PREFIX, formatPath, type LoadConfigOptions } from './load.ts';
