import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSource } from '../../src/core/yaml.js';
import { diffContains, diffEquals, loadMappingTests, runMappingTests, type CompiledMapping, type MappingTestSuite } from '../../src/mapping/index.js';
import { CCCD, NAME, compile } from './helpers.js';

const FILE = '/hub/mappings/onegate-h56/citizen-lookup.in.test.yaml';

function suite(yaml: string): MappingTestSuite {
  const { suite: s, issues } = loadMappingTests(parseSource(FILE, yaml));
  if (!s) throw new Error(JSON.stringify(issues));
  return s;
}

const mapping: CompiledMapping = compile(`
personalId: { from: soDinhDanh }
idType: { from: soDinhDanh, fn: [idType] }
fullName: { from: hoVaTen, fn: [trim, nfc] }
birthDate.date: { from: ngaySinh, fn: [{ date: { from: "dd/MM/yyyy", to: iso-date } }] }
birthDate.year: { from: ngaySinh, fn: [{ date: { from: "dd/MM/yyyy", to: yyyy } }, integer] }
`);

const noSchema = () => [];

describe('diff', () => {
  it('reports changed values, missing and unexpected keys per path', () => {
    expect(diffEquals({ birthDate: { date: '1995-01-02' }, a: 1, list: [1, 2] }, { birthDate: { date: '1995-02-01' }, b: 2, list: [1, 3, 4] })).toEqual([
      'at birthDate.date: expected "1995-01-02", got "1995-02-01"',
      'at a: missing (expected 1)',
      'at list: expected 2 item(s), got 3',
      'at list[1]: expected 2, got 3',
      'at b: unexpected key (got 2)',
    ]);
    expect(diffEquals({ a: { x: 1 } }, { a: 'x' })).toEqual(['at a: expected an object, got string "x"']);
    expect(diffEquals(1, 1)).toEqual([]);
  });

  it('contains ignores extra keys but not list lengths', () => {
    expect(diffContains({ a: { x: 1 } }, { a: { x: 1, y: 2 }, z: 3 })).toEqual([]);
    expect(diffContains({ l: [{ x: 1 }] }, { l: [{ x: 1, y: 2 }] })).toEqual([]);
    expect(diffContains({ l: [{ x: 1 }] }, { l: [{ x: 1 }, { x: 2 }] })).toEqual(['at l: expected 1 item(s), got 2']);
    expect(diffContains({ a: { x: 1 } }, {})).toEqual(['at a: missing (expected {"x":1})']);
  });
});

describe('loadMappingTests', () => {
  it('resolves the mapping file beside the test file and keeps the cases with their lines', () => {
    const s = suite(`$schema: ../../schemas/config/mapping-test.schema.json
mapping: citizen-lookup.in.yaml
cases:
  - name: đầy đủ thông tin
    input: { soDinhDanh: "${CCCD}" }
    equals: { personalId: "${CCCD}" }
  - name: ngày sinh sai
    input: { ngaySinh: "31/02/1995" }
    error_matches: "birthDate"
`);
    expect(s.file).toBe(FILE);
    expect(s.mappingFile).toBe(resolve('/hub/mappings/onegate-h56/citizen-lookup.in.yaml'));
    expect(s.cases.map((c) => [c.name, c.line])).toEqual([
      ['đầy đủ thông tin', 4],
      ['ngày sinh sai', 7],
    ]);
    expect(s.cases[1]!.error_matches).toBe('birthDate');
  });

  it('rejects a case that checks nothing, a bad regex, error_matches mixed with output checks and duplicate names', () => {
    const { suite: s, issues } = loadMappingTests(parseSource(FILE, `mapping: m.yaml
cases:
  - name: a
    input: {}
  - name: b
    input: {}
    error_matches: "birthDate("
  - name: c
    input: {}
    error_matches: x
    equals: {}
  - name: c
    input: {}
    schema: true
`));
    expect(s).toBeUndefined();
    expect(issues.map((i) => i.line)).toEqual([3]);
    expect(issues[0]!.message).toBe('a case needs at least one of equals, contains, schema or error_matches');
    const second = loadMappingTests(parseSource(FILE, `mapping: m.yaml
cases:
  - name: b
    input: {}
    error_matches: "birthDate("
  - name: c
    input: {}
    error_matches: x
    equals: {}
  - name: c
    input: {}
    schema: true
`));
    expect(second.suite).toBeUndefined();
    expect(second.issues.map((i) => [i.line, i.field])).toEqual([
      [5, 'cases[0].error_matches'],
      [8, 'cases[1].error_matches'],
      [10, 'cases[2].name'],
    ]);
  });

  it('requires mapping and cases', () => {
    const { issues } = loadMappingTests(parseSource(FILE, 'cases: []\n'));
    expect(issues.map((i) => i.message)).toEqual(expect.arrayContaining(["'mapping' is missing"]));
  });
});

describe('runMappingTests', () => {
  it('passes equals, contains, schema and error_matches cases', () => {
    const s = suite(`mapping: m.yaml
cases:
  - name: equals
    input: { soDinhDanh: "${CCCD}", hoVaTen: " ${NAME} ", ngaySinh: "02/01/1995" }
    equals: { personalId: "${CCCD}", idType: CCCD, fullName: ${NAME}, birthDate: { date: "1995-01-02", year: 1995 } }
  - name: contains
    input: { soDinhDanh: "${CCCD}", ngaySinh: "02/01/1995" }
    contains: { birthDate: { year: 1995 } }
    schema: true
  - name: error
    input: { soDinhDanh: "${CCCD}", ngaySinh: "31/02/1995" }
    error_matches: "birthDate\\\\.(date|year).*bad-date"
`);
    const seen: unknown[] = [];
    const results = runMappingTests(s, mapping, (out) => {
      seen.push(out);
      return [];
    });
    expect(results).toEqual([
      { suite: FILE, name: 'equals', ok: true },
      { suite: FILE, name: 'contains', ok: true },
      { suite: FILE, name: 'error', ok: true },
    ]);
    expect(seen).toHaveLength(1);
  });

  it('fails with a readable per-path diff', () => {
    const s = suite(`mapping: m.yaml
cases:
  - name: wrong date
    input: { soDinhDanh: "${CCCD}", ngaySinh: "01/02/1995" }
    equals: { personalId: "${CCCD}", idType: CCCD, birthDate: { date: "1995-01-02", year: 1995 }, fullName: x }
`);
    const [r] = runMappingTests(s, mapping, noSchema);
    expect(r!.ok).toBe(false);
    expect(r!.message).toBe(['at birthDate.date: expected "1995-01-02", got "1995-02-01"', 'at fullName: missing (expected "x")'].join('\n'));
  });

  it('fails when the output is not valid against the target schema', () => {
    const s = suite(`mapping: m.yaml
cases:
  - name: schema
    input: { soDinhDanh: "${CCCD}" }
    schema: true
`);
    const [r] = runMappingTests(s, mapping, () => ['purpose: is required']);
    expect(r!.ok).toBe(false);
    expect(r!.message).toContain('purpose: is required');
    expect(r!.message).toContain('test/target');
  });

  it('fails when an expected error does not happen, or is a different one, or when an unexpected error happens', () => {
    const s = suite(`mapping: m.yaml
cases:
  - name: no error
    input: { soDinhDanh: "${CCCD}" }
    error_matches: birthDate
  - name: other error
    input: { soDinhDanh: "0380959999" }
    error_matches: birthDate
  - name: unexpected error
    input: { soDinhDanh: "${CCCD}", ngaySinh: "1995" }
    contains: {}
`);
    const [a, b, c] = runMappingTests(s, mapping, noSchema);
    expect(a!.ok).toBe(false);
    expect(a!.message).toMatch(/expected the mapping to fail \(matching \/birthDate\/\), but it succeeded/);
    expect(b!.ok).toBe(false);
    expect(b!.message).toMatch(/not as expected/);
    expect(b!.message).toContain('idType: idType expects a 12-digit CCCD or a 9-digit CMND number (bad-id)');
    expect(c!.ok).toBe(false);
    expect(c!.message).toMatch(/^the mapping failed:/);
    expect(c!.message).toContain('bad-date');
  });

  it('runs each case on a copy of its input', () => {
    const mutating: CompiledMapping = {
      id: 'x', source: 'a', target: 'b',
      run(input) {
        (input as Record<string, unknown>).touched = true;
        return {};
      },
    };
    const s = suite('mapping: m.yaml\ncases:\n  - { name: a, input: { x: 1 }, equals: {} }\n');
    runMappingTests(s, mutating, noSchema);
    expect(s.cases[0]!.input).toEqual({ x: 1 });
  });
});
