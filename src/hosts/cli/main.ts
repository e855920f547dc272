#!/usr/bin/env node
// The snatguard CLI entry point (package.json "bin"): loads the CLI (cli.ts). From a build, as the one file
// `npm run build` writes beside it (cli.bundle.js, scripts/bundle-cli.mjs: cli.js and its static imports in
// one module; commander and the commands' dynamic imports stay outside) when it is fresh; else cli.js and
// its ~20 modules one by one, which took every command ~13 ms more to start.
import { freshBundle } from './fresh-bundle.js';

const bundle = freshBundle('./cli.bundle.js', import.meta.url);
if (bundle !== undefined) await import(bundle);
else await import('./cli.js');
