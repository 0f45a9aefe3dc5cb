import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Fixtures use fictitious people only. A real person's CCCD must never end up in the repository, so every
 * 12-digit number that looks like a CCCD (a province code 001–096 first) in tests, golden mapping tests
 * and the simulators must end in the simulator's made-up random part `9999NN` (src/sim/population/people.ts).
 */
const root = fileURLToPath(new URL('..', import.meta.url));
/** This file: it holds the allow-list below, whose numbers are the exceptions by definition. */
const self = 'test/fixtures-fictitious.test.ts';

/** Where fixtures live: every test file, the mapping golden tests (*.test.yaml), the simulators. */
const scanned: Array<{ dir: string; include: (file: string) => boolean }> = [
  { dir: 'test', include: () => true },
  { dir: 'mappings', include: (f) => f.endsWith('.test.yaml') },
  { dir: 'src/sim', include: () => true },
];

/**
 * Deliberate exceptions, as `file: [numbers]`. Each needs a comment saying why it is not a person.
 */
const allowed: Record<string, string[]> = {};

/** A CCCD-shaped number: 12 digits standing alone, starting with a province code 001–096. */
const CCCD_LIKE = /(?<!\d)(0(?:0[1-9]|[1-8]\d|9[0-6])\d{9})(?!\d)/g;
const FICTITIOUS = /9999\d\d$/;

function* files(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (entry.isFile()) yield path;
  }
}

describe('fixtures are fictitious', () => {
  it('uses only test CCCDs (ending in 9999NN) in tests, golden mapping tests and simulators', () => {
    const offending: string[] = [];
    let count = 0;
    for (const { dir, include } of scanned) {
      for (const path of files(join(root, dir))) {
        const file = relative(root, path).split('\\').join('/');
        if (!include(file) || file === self) continue;
        count++;
        readFileSync(path, 'utf8').split('\n').forEach((line, i) => {
          for (const [, id] of line.matchAll(CCCD_LIKE)) {
            if (!FICTITIOUS.test(id!) && !allowed[file]?.includes(id!)) offending.push(`${file}:${i + 1}: ${id}`);
          }
        });
      }
    }
    expect(count).toBeGreaterThan(50); // the walk did find the files
    expect(offending, 'CCCD-like numbers that could be a real person\'s: use one ending in 9999NN').toEqual([]);
  });

  it('recognises a CCCD-like number and accepts only test ones', () => {
    // Built from parts, so that this file needs no CCCD-like literal of its own.
    const real = ['038', '095', '012345'].join('');
    const test = ['038', '095', '999901'].join('');
    const notCccd = ['562', '503', '040007'].join(''); // province 562 does not exist: a payment reference
    const ids = (text: string) => [...text.matchAll(CCCD_LIKE)].map((m) => m[1]);
    expect(ids(`{"soDinhDanh":"${real}"} ${test} ${notCccd} ${real}1`)).toEqual([real, test]);
    expect(FICTITIOUS.test(real)).toBe(false);
    expect(FICTITIOUS.test(test)).toBe(true);
  });
});
