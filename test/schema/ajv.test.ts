import { describe, expect, it } from 'vitest';
import { createAjv } from '../../src/schema/ajv.js';
import { formatMessage } from '../../src/schema/formats.js';
import { pointerToPath, toErrorDetails } from '../../src/schema/validation-errors.js';

const citizen = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://lienthong.invalid/schemas/test/Citizen.json',
  type: 'object',
  required: ['personalId', 'name', 'gender'],
  additionalProperties: false,
  properties: {
    personalId: { type: 'string', format: 'cccd', 'x-pii': 'basic', 'x-note': 'Số định danh cá nhân' },
    name: { type: 'string', minLength: 1, 'x-pii': 'basic' },
    gender: { enum: ['M', 'F'] },
    birthDate: { type: 'string', format: 'date' },
    phone: { type: ['string', 'null'], format: 'vnPhone' },
    age: { type: 'integer', minimum: 0 },
    dossierCode: { type: 'string', format: 'dossierCode' },
    contacts: {
      type: 'array',
      items: {
        type: 'object',
        required: ['email'],
        properties: { email: { type: 'string', format: 'email' } },
      },
    },
  },
};

const valid = { personalId: '038095999901', name: 'Trần Văn Thử', gender: 'M', birthDate: '1995-05-01', phone: '0912345678' };

describe('createAjv', () => {
  const ajv = createAjv();
  const validate = ajv.compile(citizen);

  it('validates a good record with hub and ISO formats and annotation keywords', () => {
    expect(validate(valid)).toBe(true);
    expect(validate({ ...valid, phone: null, contacts: [{ email: 'le.thi.mau@example.vn' }] })).toBe(true);
  });

  it('has every hub format and the ISO ones', () => {
    const check = (format: string, good: string, bad: string): void => {
      const v = ajv.compile({ type: 'string', format });
      expect(v(good), `${format} ${good}`).toBe(true);
      expect(v(bad), `${format} ${bad}`).toBe(false);
    };
    check('cccd', '001199999902', '003199999902');
    check('cmnd', '123456789', '12345678');
    check('personalId', '123456789', '12345');
    check('agencyCode', '000.00.00.H56', 'H56');
    check('dossierCode', '000.00.14.H56-250304-0007', '000.00.14.H56-250231-0007');
    check('procedureCode', '1.001234', '1.0012');
    check('vnPhone', '+84912345678', '0912 345 678');
    check('date-dmy', '04/03/2025', '31/02/2025');
    check('datetime-dmy-hm', '04/03/2025 08:02', '04/03/2025 25:02');
    check('datetime-compact', '20250304080211', '20250304250211');
    check('date-compact', '20250304', '20250230');
    check('date', '2025-03-04', '2025-02-30');
    check('date-time', '2025-03-04T09:15:00+07:00', '2025-03-04 09:15');
    check('email', 'a@example.vn', 'not an email');
    check('uri', 'https://dichvucong.gov.vn/p', 'not a uri');
    check('uuid', '3f0c5a4e-8a8b-4c8e-9f7a-1a2b3c4d5e6f', '3f0c5a4e');
  });

  it('does not coerce types, remove additional properties or fill defaults', () => {
    const withDefault = ajv.compile({ type: 'object', properties: { a: { type: 'string', default: 'x' } } });
    const data: Record<string, unknown> = {};
    expect(withDefault(data)).toBe(true);
    expect(data).toEqual({});

    const record = { ...valid, age: '30' };
    expect(validate(record)).toBe(false);
    expect(record.age).toBe('30');

    const extra: Record<string, unknown> = { ...valid, nickname: 'Thử' };
    expect(validate(extra)).toBe(false);
    expect(extra.nickname).toBe('Thử');
  });

  it('is strict: unknown keywords and bad x-pii values fail at compile time', () => {
    expect(() => createAjv().compile({ type: 'string', 'x-unknown': 1 })).toThrow();
    expect(() => createAjv().compile({ type: 'string', 'x-pii': 'secret' })).toThrow();
    expect(() => createAjv().compile({ type: 'string', format: 'no-such-format' })).toThrow();
    expect(() => createAjv().compile({ type: 'string', 'x-pii': 'sensitive', 'x-note': 'ghi chú' })).not.toThrow();
  });

  it('stops at the first error (allErrors: false)', () => {
    expect(validate({})).toBe(false);
    expect(validate.errors).toHaveLength(1);
  });
});

describe('toErrorDetails', () => {
  const ajv = createAjv();
  const validate = ajv.compile(citizen);
  const details = (data: unknown) => {
    expect(validate(data)).toBe(false);
    return toErrorDetails(validate.errors);
  };

  it('names the missing property for required', () => {
    expect(details({ name: 'Trần Văn Thử', gender: 'M' })).toEqual([
      { field: 'personalId', reason: 'thiếu trường bắt buộc / required field is missing', code: 'required' },
    ]);
    expect(details({ ...valid, contacts: [{ email: 'a@example.vn' }, {}] })).toEqual([
      { field: 'contacts[1].email', reason: 'thiếu trường bắt buộc / required field is missing', code: 'required' },
    ]);
  });

  it('uses the format message and never the value', () => {
    const d = details({ ...valid, personalId: '003095999901' });
    expect(d).toEqual([{ field: 'personalId', reason: formatMessage('cccd'), code: 'format' }]);
    expect(JSON.stringify(d)).not.toContain('003095999901');

    const dossier = details({ ...valid, dossierCode: '000.00.14.H56-250231-0007' });
    expect(dossier[0]?.reason).toBe(formatMessage('dossierCode'));
    expect(JSON.stringify(dossier)).not.toContain('250231');
  });

  it('lists allowed values for enum, and types and limits from the schema', () => {
    expect(details({ ...valid, gender: 'X' })[0]).toEqual({ field: 'gender', reason: expect.stringContaining('"M", "F"'), code: 'enum' });
    expect(details({ ...valid, age: '30' })[0]).toEqual({ field: 'age', reason: 'phải có kiểu số nguyên / must be of type integer', code: 'type' });
    expect(details({ ...valid, age: -1 })[0]).toMatchObject({ field: 'age', code: 'minimum' });
    expect(details({ ...valid, name: '' })[0]).toMatchObject({ field: 'name', code: 'minLength' });
    const extra = details({ ...valid, soCmnd: '123456789' })[0];
    expect(extra).toMatchObject({ field: 'soCmnd', code: 'additionalProperties' });
    expect(JSON.stringify(extra)).not.toContain('123456789');
  });

  it('does not leak values for pattern, const or type errors either', () => {
    const v = createAjv().compile({
      type: 'object',
      properties: { a: { type: 'string', pattern: '^\\d{3}$' }, b: { const: 'OK' }, c: { type: 'number' } },
    });
    expect(v({ a: 'Trần Văn Thử' })).toBe(false);
    expect(JSON.stringify(toErrorDetails(v.errors))).not.toContain('Trần');
    expect(v({ b: 'Lê Thị Mẫu' })).toBe(false);
    expect(JSON.stringify(toErrorDetails(v.errors))).not.toContain('Mẫu');
    expect(v({ c: '038095999901' })).toBe(false);
    expect(JSON.stringify(toErrorDetails(v.errors))).not.toContain('038095999901');
  });

  it('handles null and an empty list', () => {
    expect(toErrorDetails(null)).toEqual([]);
    expect(toErrorDetails([])).toEqual([]);
  });
});

describe('pointerToPath', () => {
  it('turns JSON pointers into dotted paths with [index]', () => {
    expect(pointerToPath('')).toBe('');
    expect(pointerToPath('/a')).toBe('a');
    expect(pointerToPath('/a/0/b')).toBe('a[0].b');
    expect(pointerToPath('/0')).toBe('[0]');
    expect(pointerToPath('/a~1b/c~0d')).toBe('a/b.c~d');
  });
});
