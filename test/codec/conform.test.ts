import { describe, expect, it } from 'vitest';
import { createConformer } from '../../src/codec/conform.js';
import { decodeSoap } from '../../src/codec/soap.js';
import { idForName, SchemaSet, type JsonSchema } from '../../src/schema/set.js';

const commonId = idForName('canonical/Common');
const dossierId = idForName('legacy/SyncDocument');

const common: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: commonId,
  $defs: {
    Attachment: {
      type: 'object',
      properties: { AttachmentName: { type: 'string' }, Tags: { type: 'array', items: { type: 'string' } } },
    },
    Person: {
      type: 'object',
      properties: {
        Name: { type: 'string' },
        Relatives: { type: 'array', items: { $ref: '#/$defs/Person' } },
      },
    },
  },
};

const dossier: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: dossierId,
  type: 'object',
  properties: {
    DocCode: { type: 'string' },
    Status: { type: 'string' },
    Attachments: { type: 'array', items: { $ref: '../canonical/Common.json#/$defs/Attachment' } },
    Fees: { type: 'array', items: { type: 'object', properties: { Amount: { type: 'string' } } } },
    Extra: { type: 'object', properties: {} },
    Applicant: { $ref: '../canonical/Common.json#/$defs/Person' },
    Either: { type: ['array', 'string'], items: { type: 'string' } },
    Optional: { type: ['array', 'null'], items: { type: 'string' } },
    Merged: { allOf: [{ type: 'object' }, { properties: { Codes: { type: 'array' } } }] },
    Tuple: { type: 'array', prefixItems: [{ type: 'object', properties: { L: { type: 'array' } } }] },
    Map: { type: 'object', additionalProperties: { type: 'array' } },
  },
};

const schemas = new SchemaSet([common, dossier]);
const conform = createConformer(dossier, schemas, dossierId);

describe('createConformer', () => {
  it('wraps a single element into an array where the schema says array (through $ref)', () => {
    expect(conform({ Attachments: { AttachmentName: 'don.pdf', Tags: 'scan' } })).toEqual({
      Attachments: [{ AttachmentName: 'don.pdf', Tags: ['scan'] }],
    });
  });

  it('leaves arrays that are already arrays, and conforms their items', () => {
    expect(conform({ Attachments: [{ AttachmentName: 'a', Tags: 't' }, { AttachmentName: 'b' }] })).toEqual({
      Attachments: [{ AttachmentName: 'a', Tags: ['t'] }, { AttachmentName: 'b' }],
    });
  });

  it('turns "" into {} for objects and [] for arrays', () => {
    expect(conform({ Extra: '', Fees: '', Attachments: '' })).toEqual({ Extra: {}, Fees: [], Attachments: [] });
  });

  it('leaves strings as strings (no coercion)', () => {
    expect(conform({ DocCode: '000.00.14.H56-250304-0007', Status: '2', Fees: { Amount: '50000' } })).toEqual({
      DocCode: '000.00.14.H56-250304-0007',
      Status: '2',
      Fees: [{ Amount: '50000' }],
    });
    expect(conform({ Status: '' })).toEqual({ Status: '' });
  });

  it('follows recursive $refs', () => {
    expect(conform({ Applicant: { Name: 'Trần Văn Thử', Relatives: { Name: 'Lê Thị Mẫu', Relatives: { Name: 'X' } } } })).toEqual({
      Applicant: { Name: 'Trần Văn Thử', Relatives: [{ Name: 'Lê Thị Mẫu', Relatives: [{ Name: 'X' }] }] },
    });
  });

  it('does not reshape a value that already fits one of several allowed types', () => {
    expect(conform({ Either: 'x', Optional: null })).toEqual({ Either: 'x', Optional: null });
    expect(conform({ Optional: 'x' })).toEqual({ Optional: ['x'] });
  });

  it('follows allOf, prefixItems and additionalProperties', () => {
    expect(conform({ Merged: { Codes: 'A' }, Tuple: [{ L: 'x' }, { L: 'y' }], Map: { a: '1', b: ['2'] } })).toEqual({
      Merged: { Codes: ['A'] },
      Tuple: [{ L: ['x'] }, { L: 'y' }],
      Map: { a: ['1'], b: ['2'] },
    });
  });

  it('never mutates its input and returns it unchanged when nothing needs changing', () => {
    const input = { Attachments: { AttachmentName: 'a' }, Unknown: { x: '1' } };
    const snapshot = structuredClone(input);
    const out = conform(input) as Record<string, unknown>;
    expect(input).toEqual(snapshot);
    expect(out.Unknown).toBe(input.Unknown);
    const fine = { DocCode: 'x', Attachments: [{ AttachmentName: 'a' }] };
    expect(conform(fine)).toBe(fine);
  });

  it('a conformer prepared once serves many messages alike', () => {
    const prepared = createConformer(dossier, schemas, dossierId);
    expect(prepared({ Fees: { Amount: '1' } })).toEqual({ Fees: [{ Amount: '1' }] });
    expect(prepared({ Fees: { Amount: '2' } })).toEqual({ Fees: [{ Amount: '2' }] });
    expect(prepared({ Fees: { Amount: '1' } })).toEqual(conform({ Fees: { Amount: '1' } }));
  });

  it('conforms a decoded SOAP body end to end', () => {
    const m = decodeSoap(
      `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><SyncDocument>` +
        `<DocCode>000.00.14.H56-250304-0007</DocCode><Attachments><AttachmentName>don.pdf</AttachmentName></Attachments><Fees/>` +
        `</SyncDocument></s:Body></s:Envelope>`,
    );
    expect(conform(m.body.SyncDocument)).toEqual({
      DocCode: '000.00.14.H56-250304-0007',
      Attachments: [{ AttachmentName: 'don.pdf' }],
      Fees: [],
    });
  });
});
