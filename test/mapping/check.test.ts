import { describe, expect, it } from 'vitest';
import type { ConfigIssue } from '../../src/core/issues.js';
import { checkMapping } from '../../src/mapping/index.js';
import type { JsonSchema } from '../../src/schema/set.js';
import { codeTable, doc, loaded, schemaSet, tables } from './helpers.js';

const common: JsonSchema = {
  $defs: {
    CongDan: {
      type: 'object',
      properties: { HoVaTen: { type: 'string' }, Cha: { $ref: '#/$defs/Nguoi' } },
      additionalProperties: false,
    },
    Nguoi: { type: 'object', properties: { HoVaTen: { type: 'string' }, SoDinhDanh: { type: 'string' } } },
  },
};

const source: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    soDinhDanh: { type: 'string' },
    hoVaTen: { type: 'string' },
    soLuong: { type: 'integer' },
    giaTri: { type: ['number', 'null'] },
    TrangThai: { type: 'string', enum: ['1', '2', '3'] },
    GioiTinh: { enum: ['1', '2'] },
    HoVaTen: { type: 'object', properties: { Ho: { type: 'string' }, ChuDem: { type: 'string' }, Ten: { type: 'string' } } },
    CongDan: { $ref: 'common.json#/$defs/CongDan' },
    DanhSach: { type: 'array', items: { type: 'object', properties: { Ten: { type: 'string' }, Tuoi: { type: 'integer' } } } },
    tuple: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'integer' }], items: false },
    open: {},
    alt: {
      anyOf: [
        { type: 'object', properties: { x: { type: 'string' } }, additionalProperties: false },
        { type: 'object', properties: { y: { type: 'integer' } }, additionalProperties: false },
      ],
    },
    extra: { type: 'object', allOf: [{ $ref: '#/$defs/Base' }], properties: { own: { type: 'string' } } },
    patterned: { type: 'object', patternProperties: { '^ma': { type: 'string' } }, additionalProperties: false },
  },
  $defs: { Base: { properties: { inherited: { type: 'boolean' } } } },
};

const target: JsonSchema = {
  type: 'object',
  required: ['id', 'kind'],
  additionalProperties: false,
  properties: {
    id: { type: 'string' },
    kind: { type: 'string', enum: ['CCCD', 'CMND'] },
    count: { type: 'integer' },
    amount: { type: 'number' },
    flag: { type: 'boolean' },
    birth: { type: 'object', required: ['year'], properties: { year: { type: 'integer' }, date: { type: 'string' } }, additionalProperties: false },
    people: { type: 'array', items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, age: { type: 'integer' } }, additionalProperties: false } },
    status: { type: 'string', enum: ['SUBMITTED', 'RECEIVED', 'PROCESSING'] },
    anything: {},
  },
};

const schemas = { 'test/source': source, 'test/target': target, 'test/common': common };
const BASE = 'id: { from: soDinhDanh }\nkind: { from: soDinhDanh, fn: [idType] }\n';

function check(fields: string, codeTables = new Map()): ConfigIssue[] {
  return checkMapping(loaded(doc(`${BASE}${fields}`)), { schemas: schemaSet(schemas), codeTables });
}
/** Line of the first extra field line (after the two BASE lines and the 3 header lines). */
const L = 6;

describe('checkMapping', () => {
  it('a sound mapping has no findings', () => {
    expect(check(`
count: { from: soLuong }
amount: { from: giaTri }
birth.year: { from: soLuong }
birth.date: { from: hoVaTen }
people:
  each: DanhSach
  fields:
    name: { from: Ten }
    age: { from: Tuoi }
anything: { from: "open.a.b[0].c" }
flag: { from: extra.inherited }
`)).toEqual([]);
  });

  describe('(1) source paths', () => {
    it('reports a path missing from the source schema, with a did-you-mean hint and the line', () => {
      const issues = check('count: { from: soLuongg }');
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatchObject({ severity: 'error', line: L, field: 'fields.count.from', file: 'mappings/test/m.yaml' });
      expect(issues[0]!.message).toContain("'soLuongg'");
      expect(issues[0]!.hint).toBe("did you mean 'soLuong'?");
    });

    it('walks nested properties, $ref into another document, allOf, anyOf and patternProperties', () => {
      const ok = check(`
anything: { from: HoVaTen.Ten }
amount: { from: CongDan.Cha.HoVaTen, fn: [count] }
flag: { from: extra.inherited }
count: { from: alt.y }
birth.date: { from: patterned.maTinh }
birth.year: { from: "tuple[1]" }
`);
      expect(ok).toEqual([]);
      const bad = check(`
anything: { from: HoVaTen.Tenn }
amount: { from: CongDan.Cha.HoTen, fn: [count] }
flag: { from: extra.nope }
count: { from: alt.z }
birth.date: { from: patterned.tenTinh }
birth.year: { from: CongDan.Me, fn: [count] }
`);
      expect(bad.map((i) => [i.line, i.hint])).toEqual([
        [L + 1, "did you mean 'Ten'?"],
        [L + 2, "did you mean 'HoVaTen'?"],
        [L + 3, expect.stringContaining("'own'")],
        [L + 4, expect.stringContaining("'x'")],
        [L + 5, 'names here must match /^ma/'],
        [L + 6, "declared fields: 'HoVaTen', 'Cha'"],
      ]);
    });

    it('an open {} schema accepts any path below it', () => {
      expect(check('anything: { from: "open.any.thing[3].at.all" }')).toEqual([]);
    });

    it('reports walking into a scalar and indexes beyond a closed tuple', () => {
      const issues = check(`
anything: { from: hoVaTen.x }
count: { from: "tuple[1]" }
amount: { from: "tuple[2]" }
`);
      expect(issues.map((i) => i.line)).toEqual([L + 1, L + 3]);
      expect(issues[0]!.message).toMatch(/'hoVaTen' is string, not an object/);
    });

    it('checks paths in when, concat and each, relative to the item inside each, and $. paths from the root', () => {
      const issues = check(`
anything: { from: hoVaTen, when: { all: [{ path: TrangThai, equals: "1" }, { path: TrangThaii, exists: true }] } }
id2: { concat: [HoVaTen.Ho, HoVaTen.Tem] }
people:
  each: DanhSach
  fields:
    name: { from: Tenn }
    age: { from: $.soLuong }
`.replace('id2', 'birth.date'));
      expect(issues.map((i) => [i.line, i.field])).toEqual([
        [L + 1, 'fields.anything.when.all[1].path'],
        [L + 2, 'fields.birth.date'], // birth.year is required and never written
        [L + 2, 'fields.birth.date.concat[1]'],
        [L + 6, 'fields.people.fields.name.from'],
      ]);
      expect(issues[1]!.message).toMatch(/'birth.year' is never written/);
      expect(issues[3]!.message).toContain('inside each: DanhSach');
      expect(issues[3]!.hint).toBe("did you mean 'Ten'?");
    });

    it('checks the values a when compares with: outside the enum an error, inside an each too; notEquals and a type mismatch warnings', () => {
      const issues = check(`
anything: { from: hoVaTen, when: { path: TrangThai, in: ["1", "4"] } }
count: { from: soLuong, when: { path: soLuong, equals: "nhiều" } }
amount: { from: giaTri, when: { path: GioiTinh, notEquals: "3" } }
people:
  each: DanhSach
  fields:
    name: { from: Ten }
    age: { from: Tuoi, when: { path: $.GioiTinh, equals: "nam" } }
`);
      expect(issues.map((i) => [i.line, i.field, i.severity])).toEqual([
        [L + 1, 'fields.anything.when.in', 'error'],
        [L + 2, 'fields.count.when.equals', 'warning'],
        [L + 3, 'fields.amount.when.notEquals', 'warning'],
        [L + 8, 'fields.people.fields.age.when.equals', 'error'],
      ]);
      expect(issues[0]!.message).toBe('condition compares TrangThai with "4", which is not one of its values (1, 2, 3): this rule would never apply');
      expect(issues[0]!.hint).toBe('did you mean "1"? use one of "1", "2", "3"');
      expect(issues[1]!.message).toBe('condition compares soLuong (integer) with "nhiều", which a value of that type never is');
      expect(issues[2]!.message).toBe('condition compares GioiTinh with "3", which is not one of its values (1, 2), so the condition always holds');
      expect(issues[3]!.message).toContain('compares $.GioiTinh with "nam"');
    });

    it('reports an each over a scalar', () => {
      const issues = check('people: { each: hoVaTen, fields: { name: { from: "@" } } }');
      expect(issues[0]!.message).toMatch(/not a list or an object/);
    });
  });

  describe('(2) target fields', () => {
    it('reports a target field missing from the target schema, nested too', () => {
      const issues = check(`
idd: { from: soDinhDanh }
birth.yeer: { from: soLuong }
`);
      expect(issues.map((i) => [i.line, i.message, i.hint])).toEqual([
        [L + 1, "target field 'idd' is not in test/target", "did you mean 'id'?"],
        [L + 2, "required target field 'birth.year' is never written", expect.any(String)],
        [L + 2, "target field 'birth.yeer' is not in test/target", "did you mean 'year'?"],
      ]);
    });

    it('checks the fields of each against the target items', () => {
      const issues = check('people: { each: DanhSach, fields: { name: { from: Ten }, nam: { from: Tuoi } } }');
      expect(issues).toHaveLength(1);
      expect(issues[0]!.message).toBe("target field 'people[].nam' is not in test/target");
    });
  });

  describe('(3) required target fields', () => {
    it('reports a required field that is never written (root, nested object, each item)', () => {
      const issues = checkMapping(loaded(doc(`
id: { from: soDinhDanh }
birth.date: { from: hoVaTen }
people: { each: DanhSach, fields: { age: { from: Tuoi } } }
`)), { schemas: schemaSet(schemas), codeTables: new Map() });
      expect(issues.map((i) => [i.line, i.message])).toEqual([
        [3, "required target field 'kind' is never written"],
        [5, "required target field 'birth.year' is never written"],
        [6, "required target field 'people[].name' is never written"],
      ]);
      expect(issues[0]!.hint).toContain('kind:');
    });

    it('a required field written only under when is a warning', () => {
      const issues = checkMapping(loaded(doc(`
id: { from: soDinhDanh }
kind: { const: CCCD, when: { path: soDinhDanh, exists: true } }
`)), { schemas: schemaSet(schemas), codeTables: new Map() });
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatchObject({ severity: 'warning', line: 5 });
    });
  });

  describe('(4) types', () => {
    it('reports rule output vs target type mismatches with a conversion hint', () => {
      const issues = check(`
count: { from: hoVaTen }
flag: { const: "yes" }
birth: { from: hoVaTen }
anything: { from: soLuong }
amount: { concat: [soLuong] }
`);
      expect(issues.map((i) => [i.line, i.severity])).toEqual([
        [L + 1, 'error'],
        [L + 2, 'error'],
        [L + 3, 'error'],
        [L + 5, 'error'],
      ]);
      expect(issues[0]!.message).toBe("type mismatch at 'count': the rule produces string but the target expects integer");
      expect(issues[0]!.hint).toBe('add fn: [integer]');
    });

    it('follows the declared types through each function', () => {
      expect(check('count: { from: hoVaTen, fn: [trim, integer] }')).toEqual([]);
      expect(check('amount: { from: soLuong, fn: [string, number] }')).toEqual([]);
      const issues = check(`
count: { from: soLuong, fn: [trim] }
flag: { from: hoVaTen, fn: [{ split: "," }] }
`);
      expect(issues.map((i) => [i.line, i.field])).toEqual([
        [L + 1, 'fields.count.fn[0]'],
        [L + 2, 'fields.flag.from'],
      ]);
      expect(issues[0]!.message).toBe('trim expects string but gets integer (from soLuong)');
      expect(issues[1]!.message).toMatch(/produces array but the target expects boolean/);
    });

    it('number into an integer field is a warning; integer into number is fine', () => {
      const issues = check(`
count: { from: hoVaTen, fn: [number] }
amount: { from: soLuong }
`);
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatchObject({ severity: 'warning', line: L + 1 });
    });

    it('each produces a list; an object target written field by field must be an object', () => {
      const issues = check(`
id2: { each: DanhSach, fields: { name: { from: Ten } } }
count.sub: { from: soLuong }
`.replace('id2', 'amount'));
      expect(issues.map((i) => i.line)).toEqual([L + 1, L + 2]);
      expect(issues[0]!.message).toMatch(/produces array but the target expects number/);
    });

    it('reports values outside the target enum (const, passthrough of a source enum)', () => {
      const issues = checkMapping(loaded(doc(`
id: { from: soDinhDanh }
kind: { const: PASSPORT }
status: { from: TrangThai }
`)), { schemas: schemaSet(schemas), codeTables: new Map() });
      expect(issues.map((i) => i.line)).toEqual([5, 6]);
      expect(issues[0]!.message).toContain('"PASSPORT"');
      expect(issues[1]!.message).toContain('"1", "2", "3"');
    });
  });

  describe('(5) and (6) code tables', () => {
    const partial = codeTable('name: st\nentries: { "1": SUBMITTED, "2": RECEIVED }\n');
    const wrong = codeTable('name: st-wrong\nentries: { "1": SUBMITTED, "2": RECEIVED, "3": DONE }\n');
    const withDefault = codeTable('name: st-default\nentries: { "1": SUBMITTED }\ndefault: PROCESSING\n');

    it('a table that misses a value of the source enum is an error (unless it has a default)', () => {
      const issues = check('status: { from: TrangThai, fn: [{ code: st }] }', tables(partial));
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatchObject({ line: L, field: 'fields.status.fn[0]', severity: 'error' });
      expect(issues[0]!.message).toContain('"3"');
      expect(issues[0]!.hint).toContain('"3": …');
      expect(check('status: { from: TrangThai, fn: [{ code: st-default }] }', tables(withDefault))).toEqual([]);
      expect(check('status: { from: TrangThai, fn: [{ code: { table: st, default: PROCESSING } }] }', tables(partial))).toEqual([]);
    });

    it('values a table produces must be allowed by the target enum', () => {
      const issues = check('status: { from: TrangThai, fn: [{ code: st-wrong }] }', tables(wrong));
      expect(issues).toHaveLength(1);
      expect(issues[0]!.message).toContain('"DONE"');
    });

    it('an unknown table is an error with a suggestion', () => {
      const issues = check('status: { from: TrangThai, fn: [{ code: sst }] }', tables(partial));
      expect(issues).toHaveLength(1);
      expect(issues[0]!.message).toBe("unknown code table 'sst'");
      expect(issues[0]!.hint).toContain("did you mean 'st'?");
    });
  });

  it('reports a missing source or target schema', () => {
    const def = loaded('source: test/sauce\ntarget: test/target\nfields:\n  id: { const: x }\n');
    const issues = checkMapping(def, { schemas: schemaSet(schemas), codeTables: new Map() });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ line: 1, field: 'source' });
    expect(issues[0]!.hint).toContain("'test/source'");
  });
});
