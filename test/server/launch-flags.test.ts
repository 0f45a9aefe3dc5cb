import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

/** The hub runs with the same node flags however it is started: `npm start` (and the bench, which reads it) and the image. */
describe('node flags of the hub', () => {
  it('are the same in npm start and in the Docker image, and size the young generation', () => {
    const start = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start!;
    const npmFlags = start.split(/\s+/).filter((arg) => arg.startsWith('--'));
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
    expect(entrypoint).not.toBeNull();
    const imageFlags = (JSON.parse(entrypoint![1]!) as string[]).filter((arg) => arg.startsWith('--'));
    expect(npmFlags).toContain('--max-semi-space-size=64');
    expect(imageFlags).toEqual(npmFlags);
  });
});
