import vm from 'node:vm';
import { RUNTIME_GLOBAL } from '@dagproc/shared/sdk/runtime';
import { RUNTIME_IDENTIFIER } from '../identifiers.ts';

/** What the context's own globals call into; never itself reachable from user code. */
export interface Bridge {
  log(level: 'debug' | 'info' | 'warn' | 'error', args: unknown[]): void;
  setTimer(repeat: boolean, callback: () => void, delay: unknown): number;
  setImmediate(callback: () => void): number;
  clearTimer(id: unknown): void;
  /** Calls back with the value as JSON text (undefined when the API has no such key), or an error message. */
  read(
    kind: 'variable' | 'connection',
    key: string,
    resolve: (json: string | undefined) => void,
    reject: (message: string) => void,
  ): void;
}

/**
 * Builds the context's console, timers and SDK runtime INSIDE the context, so user code holds
 * functions and promises of its own realm and reaches the host only through the closed-over
 * bridge. (No security boundary: `node:` builtins are importable. It keeps one file's code from
 * tripping over host objects, and lets the job own every timer it sets.)
 */
const INSTALL = new vm.Script(
  `(function install(bridge, hostGlobals, runtimeGlobal) {
  'use strict';
  Error.stackTraceLimit = 30;
  const define = (name, value) =>
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
  for (const name of Object.keys(hostGlobals)) define(name, hostGlobals[name]);
  const needFunction = (fn, what) => {
    if (typeof fn !== 'function') throw new TypeError(what + ': the callback must be a function');
  };
  const consoleMethod = (level) => function (...args) { bridge.log(level, args); };
  define('console', Object.freeze({
    log: consoleMethod('info'), info: consoleMethod('info'), dir: consoleMethod('info'),
    debug: consoleMethod('debug'), trace: consoleMethod('debug'),
    warn: consoleMethod('warn'), error: consoleMethod('error'),
  }));
  define('setTimeout', function setTimeout(fn, ms, ...args) {
    needFunction(fn, 'setTimeout');
    return bridge.setTimer(false, () => fn(...args), ms);
  });
  define('setInterval', function setInterval(fn, ms, ...args) {
    needFunction(fn, 'setInterval');
    return bridge.setTimer(true, () => fn(...args), ms);
  });
  define('setImmediate', function setImmediate(fn, ...args) {
    needFunction(fn, 'setImmediate');
    return bridge.setImmediate(() => fn(...args));
  });
  const clear = function (id) { bridge.clearTimer(id); };
  define('clearTimeout', clear);
  define('clearInterval', clear);
  define('clearImmediate', clear);
  define('queueMicrotask', function queueMicrotask(fn) {
    needFunction(fn, 'queueMicrotask');
    Promise.resolve().then(() => fn());
  });
  const read = (kind, key) => {
    // The answer arrives later, from the host: keep the caller's frames for the error now.
    const site = {};
    Error.captureStackTrace(site);
    return new Promise((resolve, reject) => {
      bridge.read(kind, String(key),
        (json) => resolve(json === undefined ? undefined : JSON.parse(json)),
        (message) => {
          const error = new Error(message);
          error.stack = 'Error: ' + message + site.stack.slice(site.stack.indexOf('\\n'));
          reject(error);
        });
    });
  };
  define(runtimeGlobal, Object.freeze({
    getVariable: (key) => read('variable', key),
    getConnection: (connId) => read('connection', connId),
  }));
  return JSON.parse;
})`,
  { filename: RUNTIME_IDENTIFIER },
);

/** Web-platform globals a DAG file may expect, shared from the host as they are. */
const HOST_GLOBALS: Record<string, unknown> = {
  URL,
  URLSearchParams,
  TextEncoder,
  TextDecoder,
  AbortController,
  AbortSignal,
  Event,
  EventTarget,
  atob,
  btoa,
  structuredClone,
};

export interface JobContext {
  context: vm.Context;
  /** The context's own JSON.parse: data handed to user code is made in its realm. */
  parseJson(text: string): unknown;
}

export function createJobContext(bridge: Bridge, name: string): JobContext {
  const context = vm.createContext({}, { name });
  const install = INSTALL.runInContext(context) as (
    bridge: Bridge,
    hostGlobals: Record<string, unknown>,
    runtimeGlobal: string,
  ) => (text: string) => unknown;
  const parseJson = install(bridge, HOST_GLOBALS, RUNTIME_GLOBAL);
  return { context, parseJson };
}
