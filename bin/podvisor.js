#!/usr/bin/env node
// podvisor is written in TypeScript and run through tsx's loader, so the
// package needs no build step between a fresh clone and a running service.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
