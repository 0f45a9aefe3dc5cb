import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSource } from '../../src/core/yaml.js';
import { compileMapping, loadCodeTable, loadMapping, loadMappingTests } from '../../src/mapping/index.js';
import { codeTable, tables } from './helpers.js';

/** The YAML examples of docs/mapping-language.md must load: the documentation cannot drift from the language. */
const docs = readFileSync(new URL('../../docs/mapping-language.md', import.meta.url), 'utf8');
const blocks = [...docs.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe('docs/mapping-language.md examples', () => {
  it('has examples', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(5);
  });

  it.each(blocks.map((b, i) => [i, b] as const))('example %i loads without issues', (_i, block) => {
    const first = block.split('\n')[0]!;
    if (first.includes('code-table.schema.json')) {
      expect(loadCodeTable(parseSource('docs.yaml', block)).issues).toEqual([]);
    } else if (first.includes('mapping-test.schema.json')) {
      expect(loadMappingTests(parseSource('/docs/x.test.yaml', block)).issues).toEqual([]);
    } else {
      const text = first.startsWith('fields:') ? `source: a/b\ntarget: c/d\n${block}` : block;
      const { issues } = loadMapping(parseSource('docs.yaml', text), 'docs');
      expect(issues).toEqual([]);
    }
  });

  it('the complete example produces the documented output', () => {
    const block = blocks.find((b) => b.includes('description: Một cửa Thanh Hóa'))!;
    const { mapping } = loadMapping(parseSource('docs.yaml', block), 'docs');
    const m = compileMapping(mapping!, { codeTables: tables(codeTable('name: dvcqg-status\nentries: { RECEIVED: "2" }\n')) });
    expect(m.run({ soDinhDanh: ' 038095999901 ', hoVaTen: 'Trần Văn Thử', ngaySinh: '02/01/1995' })).toEqual({
      operation: 'LOOKUP',
      personalId: '038095999901',
      idType: 'CCCD',
      fullName: 'Trần Văn Thử',
      birthDate: { year: 1995, date: '1995-01-02' },
      purpose: 'Giải quyết thủ tục hành chính',
    });
  });
});
