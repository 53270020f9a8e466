import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync, renameSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A bundle folder on disk for one test, removed afterwards. */
export class TempBundle {
  readonly root: string;

  constructor(prefix = 'dagproc-bundle-') {
    this.root = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  }

  write(relativeFileloc: string, content: string): string {
    const path = join(this.root, relativeFileloc);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
    return path;
  }

  move(from: string, to: string): void {
    mkdirSync(dirname(join(this.root, to)), { recursive: true });
    renameSync(join(this.root, from), join(this.root, to));
  }

  remove(relativeFileloc: string): void {
    unlinkSync(join(this.root, relativeFileloc));
  }

  dispose(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** A small valid DAG file. */
export function dagFile(dagId: string, extra = ''): string {
  return `import { dag, task } from '@dagproc/sdk';
export default dag({
  dagId: '${dagId}',
  schedule: '@daily',
  startDate: '2026-01-01',
  tasks: [task({ taskId: 'extract' }), task({ taskId: 'load', upstream: ['extract'] })],
  ${extra}
});
`;
}
