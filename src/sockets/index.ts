// The /proc/net/tcp analysis core: pure functions, no I/O.
export * from './address.js';
export * from './conntrack.js';
export * from './parse.js';
export * from './render.js';
export * from './states.js';
export * from './summary.js';
