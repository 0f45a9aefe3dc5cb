import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './hub.js';

/** A throwaway copy of the shipped configuration, to break on purpose. */
export function copyOfShipped(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lienthong-check-'));
  for (const part of ['config', 'connectors', 'schemas', 'mappings']) cpSync(join(REPO, part), join(dir, part), { recursive: true });
  return dir;
}

/** Replaces text in a file of the copy; returns the line (1-based) where the replacement starts. */
export function edit(dir: string, file: string, from: string | RegExp, to: string): number {
  const path = join(dir, file);
  const text = readFileSync(path, 'utf8');
  const replaced = text.replace(from, to);
  if (replaced === text) throw new Error(`nothing to replace in ${file}`);
  writeFileSync(path, replaced);
  return replaced.split('\n').findIndex((line) => line.includes(to.split('\n')[0]!)) + 1;
}
