#!/usr/bin/env node
// The snatguard CLI entry point (package.json "bin"): loads the CLI (cli.ts). From a build, as the one file
// `npm run build` writes beside it (cli.bundle.js, scripts/bundle-cli.mjs: cli.js and its static imports in
// one module; commander and the commands' dynamic imports stay outside) when it is fresh; else cli.js and
// its ~20 modules one by one, which took every command ~13 ms more to start.
import module from 'node:module';
import { freshBundle } from './fresh-bundle.js';

// Node 22.1 and later keep V8's compiled code of the modules a command loads on disk, and the next start
// reads it instead of compiling them again (a 250-pod scan on Node 22 started ~30 ms sooner). It is a quiet
// optimization: it never throws (an unwritable directory leaves it off), the directory is
// os.tmpdir()/node-compile-cache unless NODE_COMPILE_CACHE names one, NODE_DISABLE_COMPILE_CACHE=1 turns it
// off. Node 20 has no such cache: there this does nothing.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

const bundle = freshBundle('./cli.bundle.js', import.meta.url);
if (bundle !== undefined) await import(bundle);
else await import('./cli.js');
