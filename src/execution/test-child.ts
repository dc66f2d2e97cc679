/**
 * Runs the kestrel CLI from the TypeScript sources (under tsx), for tests that need real child
 * processes: `node --import tsx src/execution/test-child.ts serve gateway --port 0`.
 */
import { main } from '../cli/main.js';

process.exitCode = await main(process.argv.slice(2));
