import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { loadRegistry } from '../../src/config/load.js';
import { copyOfShipped } from '../support/config-copy.js';
import { REPO } from '../support/hub.js';

const DOCS = ['docs/connectors.md', 'docs/mapping-language.md', 'docs/trust.md', 'docs/audit.md', 'docs/payments.md', 'README.md'];

/** ```yaml blocks, and inline `key: { … }` spans holding ${…} (what an integrator copies into a connector). */
function yamlExamples(doc: string): Array<{ line: number; text: string }> {
  const text = readFileSync(join(REPO, doc), 'utf8');
  const out: Array<{ line: number; text: string }> = [];
  for (const m of text.matchAll(/```yaml\n([\s\S]*?)```/g)) out.push({ line: text.slice(0, m.index).split('\n').length, text: m[1]! });
  for (const m of text.matchAll(/`([A-Za-z]\w*: \{[^`]*\$\{[^`]*\})`/g)) out.push({ line: text.slice(0, m.index).split('\n').length, text: m[1]! });
  return out;
}

describe('YAML examples in the docs', () => {
  for (const doc of DOCS) {
    it(`${doc}: every example parses`, () => {
      const examples = yamlExamples(doc);
      expect(examples.length).toBeGreaterThan(0);
      const broken = examples.filter((e) => parseDocument(e.text).errors.length > 0).map((e) => `${doc}:${e.line}: ${e.text.split('\n')[0]}`);
      expect(broken).toEqual([]);
    });
  }
});

describe('check: an unquoted ${…} inside a flow map', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('is reported once, at its line, with a hint to quote it', () => {
    const dir = copyOfShipped();
    dirs.push(dir);
    const file = join(dir, 'connectors/emc.yaml');
    const text = readFileSync(file, 'utf8');
    const replaced = text.replace(/auth:\n(  .*\n|    .*\n)+/, 'auth:\n  scheme: header\n  headers: { authorization: Bearer ${EMC_TOKEN} }\n');
    expect(replaced).not.toBe(text);
    writeFileSync(file, replaced);
    const line = replaced.split('\n').findIndex((l) => l.includes('Bearer ${EMC_TOKEN}')) + 1;
    const issues = loadRegistry(dir, { env: { ...process.env, EMC_TOKEN: 't' } }).issues.filter((i) => i.file === 'connectors/emc.yaml');
    expect(issues).toHaveLength(1);
    expect(issues[0]!.line).toBe(line);
    expect(issues[0]!.message).toContain('${EMC_TOKEN} is not quoted');
    expect(issues[0]!.hint).toContain('"Bearer ${EMC_TOKEN}"');
  });
});
