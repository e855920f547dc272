// After tsc: make the CLI entry executable (node_modules/.bin/snatguard links to it).
import { chmodSync, existsSync } from 'node:fs';

const bin = new URL('../dist/src/hosts/cli/main.js', import.meta.url);
if (existsSync(bin)) chmodSync(bin, 0o755);
