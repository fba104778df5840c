// Registers podvisor's TypeScript hooks (ts-hooks.mjs) in this thread. Node 20
// does not pass module hooks on to worker threads, so each worker entry
// imports this too. Use as `node --import ./src/register-ts.mjs file.ts`.
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
// Stack traces name the TypeScript lines, through the inline source maps.
process.setSourceMapsEnabled(true);
