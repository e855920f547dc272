export { compareRecommendations, recommend } from './catalogue.js';
export type { AdviceInput, UninspectablePod } from './types.js';
