// npm run bench [-- [--quick] NAME…]: every benchmark runs whole processes and prints its figures beside its target
// and comparator (ratios from one interleaved run, medians and ranges). Nothing is asserted.
import { run as bundles } from './bundles.js';
import { run as exec } from './exec.js';
import { QUICK } from './proc.js';
import { runEconomy as economy, run as scale } from './scale.js';
import { run as sim } from './sim.js';
import { run as sockets } from './sockets.js';
import { run as startup } from './startup.js';

const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const benches: [string, () => Promise<void>][] = [
  ['startup', startup],
  ['sockets', sockets],
  ['exec', exec],
  ['scale', scale],
  // The scan economy alone (it is also the end of `scale`).
  ['economy', economy],
  ['sim', sim],
  ['bundles', bundles],
];
console.log(
  `snatguard bench — node ${process.version}, ${new Date().toISOString()}${QUICK ? ' (--quick: a third of the rounds)' : ''}`,
);
const t0 = performance.now();
for (const [name, run] of benches) {
  // `economy` runs on its own only when named: a whole run has it at the end of `scale`.
  if (only.length > 0 ? !only.includes(name) : name === 'economy') continue;
  console.log(`\n=== ${name} ===`);
  await run();
}
console.log(`\nbench took ${((performance.now() - t0) / 1000).toFixed(0)} s`);
