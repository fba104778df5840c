// Worker threads do not inherit module hooks on Node 20: register podvisor's, then run the TypeScript.
import '../../register-ts.mjs';

await import('./reaper-loop.ts');
