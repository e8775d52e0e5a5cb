#!/usr/bin/env node
// The `cnet` command: the compiled CLI when dist/ is up to date, else the sources through tsx.
import { pathToFileURL } from 'node:url';
import { compiledEntry } from './compiled.js';

const compiled = compiledEntry('src/cli/main.ts');
let main;
if (compiled) {
  ({ main } = await import(pathToFileURL(compiled).href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
process.exitCode = await main();
