import { describe, expect, it } from 'vitest';
import { parseSource } from '../../src/core/yaml.js';
import { loadCodeTable } from '../../src/mapping/index.js';

const load = (yaml: string) => loadCodeTable(parseSource('mappings/codes/dvcqg-status.yaml', yaml));

describe('code tables', () => {
  it('loads name, entries (as text keys), default and file', () => {
    const { table, issues } = load(`$schema: ../../schemas/config/code-table.schema.json
name: dvcqg-status
description: Canonical status → DVCQG TrangThaiHoSo
entries: { SUBMITTED: "1", RECEIVED: "2", 3: PROCESSING }
default: "0"
`);
    expect(issues).toEqual([]);
    expect(table).toMatchObject({ name: 'dvcqg-status', file: 'mappings/codes/dvcqg-status.yaml', hasDefault: true, default: '0' });
    expect({ ...table!.entries }).toEqual({ SUBMITTED: '1', RECEIVED: '2', '3': 'PROCESSING' });
    expect(Object.isFrozen(table!.entries)).toBe(true);
    expect(Object.getPrototypeOf(table!.entries)).toBeNull();
  });

  it('refuses unquoted codes that YAML would change: keys that read back otherwise, values with leading zeros', () => {
    const src = parseSource('mappings/codes/x.yaml', 'name: x\nentries: { 01: A, 1.50: B, 2: C, "03": D, E: 007, F: 10, G: 0.5 }\n');
    expect(src.errors.map((e) => [e.line, e.column, e.message])).toEqual([
      [2, 12, '01 reads as 1, not as written'],
      [2, 19, '1.50 reads as 1.5, not as written'],
      [2, 46, '007 reads as 7, not as written'],
    ]);
    expect(src.errors[0]!.hint).toBe('quote it ("01") to keep it as text');
    expect(src.value).toBeUndefined();
    expect(parseSource('mappings/codes/x.yaml', 'name: x\nentries: { "01": A, "2": "007", 3: C, yes: "true" }\n').errors).toEqual([]);
  });

  it('without default: hasDefault is false', () => {
    const { table } = load('name: g\nentries: { "1": M }\n');
    expect(table!.hasDefault).toBe(false);
    expect('default' in table!).toBe(false);
  });

  it('reports structural problems with lines and hints', () => {
    const { table, issues } = load('name: "bad name"\nentries: { a: { nested: 1 } }\nextra: 1\n');
    expect(table).toBeUndefined();
    expect(issues.map((i) => [i.line, i.field])).toEqual(
      expect.arrayContaining([
        [1, 'name'],
        [2, 'entries.a'],
        [3, 'extra'],
      ]),
    );
    expect(issues.find((i) => i.field === 'extra')!.message).toBe("unknown key 'extra'");
  });

  it('requires entries', () => {
    const { issues } = load('name: g\n');
    expect(issues[0]!.message).toBe("'entries' is missing");
  });

  it('warns about entries that map to "" (absent: never written)', () => {
    const { table, issues } = load('name: g\nentries: { "1": "" }\n');
    expect(table).toBeDefined();
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ severity: 'warning', line: 2 });
  });
});
