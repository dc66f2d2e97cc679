/** Worker-thread entry of the GBDT thread pool (see parallel.ts). */
import { workerData, type MessagePort } from 'node:worker_threads';
import { CTRL_SEQ, workerLoop, type ControlBuffers } from './task.js';

const { control, tid, port } = workerData as { control: ControlBuffers; tid: number; port: MessagePort };
// Read the task sequence before announcing readiness so that the first task cannot be missed.
const seq0 = Atomics.load(new Int32Array(control.ctrl), CTRL_SEQ);
port.postMessage('ready');
workerLoop(control, tid, port, seq0);
port.close();
process.exit(0);
