/**
 * Entry of a parse process: started by the processor under Node's permission model with an
 * empty environment, a framed pipe on fd 3, read access to its runtime folder and one bundle.
 * It runs one job at a time, each in a fresh vm context.
 */
import fs from 'node:fs';
import { hardenProcess } from './hardening.ts';
import { Channel } from './channel.ts';
import { SdkSource } from './modules.ts';
import { SDK_WRAPPER_LINES } from '../identifiers.ts';
import { JobScope } from './scope.ts';
import { describeError, runJob } from './job.ts';
import type { ParentMessage } from '../protocol.ts';

const exit = process.exit.bind(process);
hardenProcess();
// Node opens the stdio handles on first use; open them now, so a file that merely imports
// node:process (whose exports read them) does not seem to leave handles behind.
for (const stream of ['stdin', 'stdout', 'stderr'] as const) {
  try {
    void process[stream];
  } catch {
    // Not every stdio can be opened under the permission model; the file will not get it either.
  }
}

// The processor names the SDK script: this file is bundled to CommonJS, with no import.meta.
const sdkPath = process.argv[2];
if (!sdkPath) throw new Error('usage: child.cjs <sdk.js>');
const sdkSource = new SdkSource(fs.readFileSync(sdkPath, 'utf8'), SDK_WRAPPER_LINES);
let current: JobScope | null = null;

const channel = new Channel(3, onMessage, () => exit(0));

function onMessage(message: ParentMessage): void {
  if (message.t === 'job') {
    if (current) return; // one job at a time; the parent never sends a second
    const scope = new JobScope(message, channel);
    current = scope;
    void runJob(message, channel, sdkSource, scope).finally(() => {
      current = null;
    });
    return;
  }
  if (current && message.job === current.id) current.settle(message);
}

// What Node would crash on: during a job it fails that job; between jobs it came from a file
// already reported, so the process asks to be retired before another file runs here.
function onStray(kind: string, error: unknown): void {
  if (current && !current.isFinished) {
    current.fail(error);
    return;
  }
  channel.send({ t: 'dirty', reason: `${kind} after its file finished: ${describeError(error).slice(0, 2000)}` });
}
process.on('uncaughtException', (error) => onStray('an uncaught exception', error));
process.on('unhandledRejection', (reason) => onStray('an unhandled promise rejection', reason));

channel.send({ t: 'ready' });
