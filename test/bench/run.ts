// npm run bench: every benchmark prints its own figures. Targets are stated next to them, never asserted.
import { run as bundles } from './bundles.js';
import { run as pipeline } from './pipeline.js';
import { run as sim } from './sim.js';
import { run as sockets } from './sockets.js';

const only = process.argv.slice(2);
const benches: [string, () => Promise<void>][] = [
  ['sockets', sockets],
  ['sim', sim],
  ['pipeline', pipeline],
  ['bundles', bundles],
];
for (const [name, run] of benches) {
  if (only.length > 0 && !only.includes(name)) continue;
  console.log(`\n=== ${name} ===`);
  await run();
}
