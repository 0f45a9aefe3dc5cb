import { describe, expect, it } from 'vitest';
import { HubError } from '../../src/core/errors.js';
import { thrown as errorOf } from '../support/errors.js';
import { formatParticipant, isParticipant, isService, parseParticipant, parseService } from '../../src/trust/identity.js';


describe('participant identifiers', () => {
  it('parses government and enterprise participants', () => {
    expect(parseParticipant('VN/GOV/000.00.00.H56/LIENTHONG')).toEqual({ instance: 'VN', memberClass: 'GOV', memberCode: '000.00.00.H56', subsystem: 'LIENTHONG' });
    expect(parseParticipant('VN/COM/0101234567/erp_1')).toMatchObject({ memberClass: 'COM', memberCode: '0101234567', subsystem: 'erp_1' });
    expect(parseParticipant('VN/COM/0101234567-001/a-b')).toMatchObject({ memberCode: '0101234567-001' });
    expect(isParticipant(`VN/GOV/000.00.14.H56/${'x'.repeat(64)}`)).toBe(true);
  });

  it.each([
    ['', 'empty'],
    ['VN/GOV/000.00.00.H56', 'parts'],
    ['VN/GOV/000.00.00.H56/A/B', 'parts'],
    ['LA/GOV/000.00.00.H56/A', 'instance'],
    ['VN/ORG/000.00.00.H56/A', 'member-class'],
    ['VN/GOV/00.00.00.H56/A', 'agency-code'],
    ['VN/GOV/000.00.00.h56/A', 'agency-code'],
    ['VN/COM/012345678/A', 'tax-code'],
    ['VN/COM/0123456789-01/A', 'tax-code'],
    ['VN/GOV/000.00.00.H56/', 'subsystem'],
    ['VN/GOV/000.00.00.H56/bad.name', 'subsystem'],
    [`VN/GOV/000.00.00.H56/${'x'.repeat(65)}`, 'subsystem'],
  ])('rejects %j (%s)', (text, code) => {
    const error = errorOf(() => parseParticipant(text));
    expect(error.type).toBe('trust.bad-identity');
    expect(error.status).toBe(400);
    expect(error.detail[0]).toMatchObject({ field: 'participant', code });
    expect(isParticipant(text)).toBe(false);
  });

  it('names the faulty part and echoes no more than the identifier', () => {
    const error = errorOf(() => parseParticipant('VN/GOV/12345/MOTCUA'));
    expect(error.message).toContain('"VN/GOV/12345/MOTCUA"');
    expect(error.message).toContain('000.00.00.H56');
    const long = errorOf(() => parseParticipant(`VN/GOV/${'9'.repeat(500)}/X`));
    expect(long.message.length).toBeLessThan(400);
    const control = errorOf(() => parseParticipant('VN/GOV/x\n/Y'));
    expect(control.message).not.toContain('\n');
  });

  it('formats back and refuses to format an invalid participant', () => {
    const text = 'VN/GOV/000.00.00.H56/MOTCUA';
    expect(formatParticipant(parseParticipant(text))).toBe(text);
    expect(() => formatParticipant({ instance: 'VN', memberClass: 'GOV', memberCode: 'H56', subsystem: 'X' })).toThrow(HubError);
    expect(isParticipant(42)).toBe(false);
  });
});

describe('service identifiers', () => {
  it('parses services with and without a version', () => {
    expect(parseService('VN/GOV/000.00.00.H56/LIENTHONG/citizen-lookup')).toEqual({
      instance: 'VN', memberClass: 'GOV', memberCode: '000.00.00.H56', subsystem: 'LIENTHONG', serviceCode: 'citizen-lookup',
    });
    expect(parseService('VN/COM/0101234567/pay/getStatus/v2.1')).toMatchObject({ serviceCode: 'getStatus', version: 'v2.1' });
    const text = 'VN/GOV/000.00.00.H56/LIENTHONG/dossier_sync/v1';
    expect(parseService(text)).toEqual({ instance: 'VN', memberClass: 'GOV', memberCode: '000.00.00.H56', subsystem: 'LIENTHONG', serviceCode: 'dossier_sync', version: 'v1' });
    expect(isService(text)).toBe(true);
  });

  it.each([
    ['VN/GOV/000.00.00.H56/LIENTHONG', 'parts'],
    ['VN/GOV/000.00.00.H56/LIENTHONG/a/v1/x', 'parts'],
    ['VN/GOV/000.00.00.H56/LIENTHONG/1lookup', 'service-code'],
    ['VN/GOV/000.00.00.H56/LIENTHONG/look.up', 'service-code'],
    [`VN/GOV/000.00.00.H56/LIENTHONG/a${'b'.repeat(64)}`, 'service-code'],
    ['VN/GOV/000.00.00.H56/LIENTHONG/lookup/1', 'version'],
    ['VN/GOV/000.00.00.H56/LIENTHONG/lookup/v1.', 'version'],
    ['VN/GOV/000.00.0.H56/LIENTHONG/lookup', 'agency-code'],
  ])('rejects %j (%s)', (text, code) => {
    const error = errorOf(() => parseService(text));
    expect(error.type).toBe('trust.bad-identity');
    expect(error.detail[0]).toMatchObject({ field: 'service', code });
    expect(isService(text)).toBe(false);
  });
});
