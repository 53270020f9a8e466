import { syncBuiltinESMExports } from 'node:module';

/**
 * Takes away, before any DAG file runs, the process APIs that reach OTHER processes, or reach
 * past the permission model. The
 * permission model does not cover signals: running with the processor's uid,
 * `process.kill(process.ppid)` would kill the processor, and `process._debugProcess(ppid)`
 * sends it SIGUSR1, which opens its inspector to anyone on the network. The parse process
 * itself never needs them, and the originals are not kept anywhere user code could reach.
 */
export function hardenProcess(): void {
  const refuse = (what: string) =>
    function refused(): never {
      throw Object.assign(new Error(`${what} is not available to DAG files`), { code: 'ERR_ACCESS_DENIED' });
    };
  for (const name of ['kill', '_kill', '_debugProcess']) {
    Object.defineProperty(process, name, { value: refuse(`process.${name}`), writable: false, configurable: false });
  }

  // Node 20 writes trace files without asking the permission model; V8 flags set at run time
  // (--allow-natives-syntax, say) reach V8's internals. A DAG file needs neither.
  const traceEvents = process.getBuiltinModule('node:trace_events');
  traceEvents.createTracing = refuse('trace_events.createTracing');
  const v8 = process.getBuiltinModule('node:v8');
  v8.setFlagsFromString = refuse('v8.setFlagsFromString');

  const os = process.getBuiltinModule('node:os');
  const setPriority = os.setPriority;
  // Renicing itself is harmless; renicing the processor or a sibling is not.
  os.setPriority = function (pidOrPriority: number, priority?: number) {
    if (priority === undefined) return setPriority(pidOrPriority);
    if (pidOrPriority !== 0 && pidOrPriority !== process.pid) refuse('os.setPriority of another process')();
    return setPriority(pidOrPriority, priority);
  } as typeof os.setPriority;
  syncBuiltinESMExports();
}
