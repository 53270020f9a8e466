import { readFileSync } from 'node:fs';
import os from 'node:os';

/** The machine a run measured, so absolute figures are read with it. */
export interface Machine {
  cpu: string;
  cores: number;
  memoryGib: number;
  node: string;
  os: string;
}

export function describeMachine(): Machine {
  return {
    cpu: cpuModel(),
    cores: os.cpus().length,
    memoryGib: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    os: `${osName()} (${os.type()} ${os.release()}, ${os.arch()})`,
  };
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) return line.slice(line.indexOf(':') + 1).trim();
  } catch {
    // Not Linux: Node's own view below.
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

function osName(): string {
  try {
    const pretty = readFileSync('/etc/os-release', 'utf8').match(/^PRETTY_NAME="?([^"\n]*)"?$/m);
    if (pretty?.[1]) return pretty[1];
  } catch {
    // Not Linux.
  }
  return os.platform();
}
