// Worker threads do not inherit the tsx loader on Node 20: register it, then run the TypeScript loop.
import { register } from 'tsx/esm/api';

register();
await import('./reaper-loop.ts');
