import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSource } from '../../src/core/yaml.js';
import { copyOfShipped, edit } from '../support/config-copy.js';
import { REPO } from '../support/hub.js';

const run = promisify(execFile);
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('check: one YAML syntax error is one error, not hundreds', () => {
  it('prints the first syntax error of a file, then how many more followed it', async () => {
    const dir = copyOfShipped();
    dirs.push(dir);
    // A block pasted into the middle of the first comment line: the parser loses its way for the rest of the file.
    edit(dir, 'config/hub.yaml', '# yaml-language-server', '# yaml-language-server\n  - id: pasted\n    mode: sync\n:');
    const out = await run(process.execPath, [join(REPO, 'bin', 'lienthong.js'), '--root', dir, 'check'], { encoding: 'utf8' }).then(
      () => ({ stdout: '', code: 0 }),
      (e: { stdout: string; stderr: string; code: number }) => ({ stdout: `${e.stdout}${e.stderr}`, code: e.code }),
    );
    expect(out.code).toBe(1);
    const errors = out.stdout.split('\n').filter((line) => /^error config\/hub\.yaml:/.test(line));
    expect(errors).toHaveLength(2);
    expect(errors[1]).toMatch(/YAML: … \d+ more YAML errors in this file, probably caused by the first \(line \d+\)/);
  }, 30_000);

  it('keeps every duplicate key (each is a problem of its own) and a file with one error as it is', () => {
    const dupes = parseSource('x.yaml', 'a: 1\na: 2\nb: 1\nb: 2\n');
    expect(dupes.errors).toHaveLength(2);
    expect(dupes.errors.every((e) => !e.message.includes('more YAML'))).toBe(true);
    const one = parseSource('x.yaml', 'a: "unclosed\n');
    expect(one.errors.filter((e) => e.message.includes('more YAML'))).toHaveLength(one.errors.length > 1 ? 1 : 0);
    expect(one.errors.length).toBeLessThanOrEqual(2);
  });
});
