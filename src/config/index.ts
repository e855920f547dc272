export { cidrProblem } from './cidr.js';
export {
  type ConfigKeyDoc,
  coerce,
  defaultConfig,
  describeConfig,
  envPassthrough,
  type LoadConfigOptions,
  loadConfig,
  parseConfig,
} from './load.js';
export {
  type Config,
  type ConfigInput,
  configSchema,
  type DestinationRule,
  destinationRuleSchema,
} from './schema.js';
export { type ConfigLeaf, configLeaves, envNameOf } from './shape.js';
