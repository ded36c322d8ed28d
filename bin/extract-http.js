#!/usr/bin/env node
// The extraction worker starts loading first; the command line loads beside it.
import { startEarly } from '../dist/early-start.js';

const argv = process.argv.slice(2);
const early = startEarly(argv);
const { main } = await import('../dist/cli.js');
main(argv, early).then((code) => { process.exitCode = code; });
