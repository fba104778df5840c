#!/usr/bin/env node
// podvisor is written in TypeScript and run through its own module hooks
// (src/ts-hooks.mjs), so the package needs no build step between a fresh clone
// and a running service.
import '../src/register-ts.mjs';

const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
