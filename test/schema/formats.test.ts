import { describe, expect, it } from 'vitest';
import {
  CCCD_PROVINCE_CODES,
  formatMessage,
  HUB_FORMATS,
  isAgencyCode,
  isCccd,
  isCmnd,
  isDateCompact,
  isDateDmy,
  isDateTimeCompact,
  isDateTimeDmyHm,
  isDossierCode,
  isPersonalId,
  isProcedureCode,
  isRealDate,
  isVnPhone,
  parseCccd,
} from '../../src/schema/formats.js';

describe('cccd', () => {
  it('accepts the fictitious test numbers and decodes them', () => {
    expect(isCccd('038095999901')).toBe(true);
    expect(parseCccd('038095999901')).toEqual({ provinceCode: '038', gender: 'M', birthYear: 1995 });
    expect(parseCccd('001199999902')).toEqual({ provinceCode: '001', gender: 'F', birthYear: 1999 });
    expect(parseCccd('096205999903')).toEqual({ provinceCode: '096', gender: 'M', birthYear: 2005 });
    expect(parseCccd('079310999904')).toEqual({ provinceCode: '079', gender: 'F', birthYear: 2010 });
  });

  it('knows exactly the 63 province codes of Circular 07/2016', () => {
    expect(CCCD_PROVINCE_CODES.size).toBe(63);
    expect(CCCD_PROVINCE_CODES.get('001')).toBe('Hà Nội');
    expect(CCCD_PROVINCE_CODES.get('038')).toBe('Thanh Hóa');
    expect(CCCD_PROVINCE_CODES.get('079')).toBe('TP Hồ Chí Minh');
    expect(CCCD_PROVINCE_CODES.get('096')).toBe('Cà Mau');
    for (const gap of ['000', '003', '005', '007', '009', '013', '016', '018', '021', '023', '028', '029', '032', '039', '097', '099']) {
      expect(CCCD_PROVINCE_CODES.has(gap)).toBe(false);
    }
  });

  it('rejects a bad province code', () => {
    expect(isCccd('003095999901')).toBe(false);
    expect(isCccd('097095999901')).toBe(false);
  });

  it('rejects a birth year in the future', () => {
    expect(isCccd('038299999901')).toBe(false); // 2099
    expect(isCccd('038495999901')).toBe(false); // 2195
    expect(parseCccd('038225999901', new Date('2024-06-01T00:00:00Z'))).toBeUndefined(); // 2025 seen from 2024
    expect(parseCccd('038225999901', new Date('2026-06-01T00:00:00Z'))?.birthYear).toBe(2025);
  });

  it('reads 8/9 as the 1800s', () => {
    expect(parseCccd('038895999901')).toEqual({ provinceCode: '038', gender: 'M', birthYear: 1895 });
    expect(parseCccd('038999999901')?.gender).toBe('F');
  });

  it('rejects wrong lengths and non-digits', () => {
    expect(isCccd('03809599990')).toBe(false); // 11 digits
    expect(isCccd('0380959999011')).toBe(false); // 13 digits
    expect(isCccd('03809599990A')).toBe(false);
    expect(isCccd(' 038095999901')).toBe(false);
    expect(isCccd('０３８０９５９９９９０１')).toBe(false); // full-width digits
  });
});

describe('cmnd and personalId', () => {
  it('cmnd is exactly 9 digits', () => {
    expect(isCmnd('123456789')).toBe(true);
    expect(isCmnd('12345678')).toBe(false);
    expect(isCmnd('1234567890')).toBe(false);
  });
  it('personalId is a valid cccd or a cmnd', () => {
    expect(isPersonalId('038095999901')).toBe(true);
    expect(isPersonalId('123456789')).toBe(true);
    expect(isPersonalId('003095999901')).toBe(false);
    expect(isPersonalId('1234567890')).toBe(false);
  });
});

describe('agencyCode', () => {
  it('accepts Decision 20/2020 identifiers', () => {
    for (const v of ['000.00.00.H56', '000.00.14.H56', '000.00.18.G12', '000.00.01.H22']) expect(isAgencyCode(v)).toBe(true);
  });
  it('rejects short forms and near misses', () => {
    for (const v of ['H56', 'H56.14', '000.00.00.h56', '000.00.00.H5', '00.00.00.H56', '000.00.00.H56 ', '000-00-00-H56']) {
      expect(isAgencyCode(v)).toBe(false);
    }
  });
});

describe('dossierCode', () => {
  it('accepts the strict form, short agency forms and an 8-digit date', () => {
    for (const v of ['000.00.14.H56-250304-0007', '000.00.14.H56-250304-12345', 'H56.14-250304-0007', 'G09.20-20260609-0092637', 'H56-240229-0001']) {
      expect(isDossierCode(v)).toBe(true);
    }
  });
  it('rejects impossible dates such as 31/02', () => {
    expect(isDossierCode('000.00.14.H56-250231-0007')).toBe(false);
    expect(isDossierCode('G09.20-20250231-0001')).toBe(false);
    expect(isDossierCode('000.00.14.H56-250229-0001')).toBe(false); // 2025 is not a leap year
    expect(isDossierCode('000.00.14.H56-251301-0001')).toBe(false);
    expect(isDossierCode('000.00.14.H56-250400-0001')).toBe(false);
  });
  it('rejects bad sequences and agency parts', () => {
    expect(isDossierCode('000.00.14.H56-250304-007')).toBe(false);
    expect(isDossierCode('000.00.14.H56-250304-00000007')).toBe(false);
    expect(isDossierCode('00.14.H56-250304-0007')).toBe(false);
    expect(isDossierCode('000.00.14.H56-2503040-0007')).toBe(false);
    expect(isDossierCode('000.00.14.H56_250304_0007')).toBe(false);
  });
});

describe('procedureCode', () => {
  it('accepts national codes with an optional local suffix', () => {
    for (const v of ['1.001234', '2.002492', '3.000181', '1.003560.000.00.00.H56', '3.000181.000.00.00.H22']) expect(isProcedureCode(v)).toBe(true);
  });
  it('rejects others', () => {
    for (const v of ['4.001234', '1.00123', '1.0012345', '1.001234.01', '1.001234.000.00.00', 'x1.001234']) expect(isProcedureCode(v)).toBe(false);
  });
});

describe('vnPhone', () => {
  it('accepts mobile and landline numbers in 0 / +84 / 84 form', () => {
    for (const v of ['0912345678', '0381234567', '0561234567', '0771234567', '0861234567', '+84912345678', '84912345678', '02438123456', '+842438123456']) {
      expect(isVnPhone(v)).toBe(true);
    }
  });
  it('rejects spaces, dots, wrong prefixes and lengths', () => {
    for (const v of ['091 234 5678', '091.234.5678', '0412345678', '0612345678', '091234567', '09123456789', '0243812345', '+8409123456789', '(+84)912345678']) {
      expect(isVnPhone(v)).toBe(false);
    }
  });
});

describe('native date formats', () => {
  it('date-dmy', () => {
    expect(isDateDmy('04/03/2025')).toBe(true);
    expect(isDateDmy('29/02/2024')).toBe(true);
    expect(isDateDmy('29/02/2025')).toBe(false);
    expect(isDateDmy('31/04/2025')).toBe(false);
    expect(isDateDmy('4/3/2025')).toBe(false);
    expect(isDateDmy('2025-03-04')).toBe(false);
  });
  it('datetime-dmy-hm is 24-hour', () => {
    expect(isDateTimeDmyHm('04/03/2025 08:02')).toBe(true);
    expect(isDateTimeDmyHm('18/03/2025 17:00')).toBe(true);
    expect(isDateTimeDmyHm('18/03/2025 24:00')).toBe(false);
    expect(isDateTimeDmyHm('18/03/2025 05:00 PM')).toBe(false);
    expect(isDateTimeDmyHm('18/03/2025 17:60')).toBe(false);
    expect(isDateTimeDmyHm('31/02/2025 08:00')).toBe(false);
  });
  it('datetime-compact', () => {
    expect(isDateTimeCompact('20250304080211')).toBe(true);
    expect(isDateTimeCompact('20250318235959')).toBe(true);
    expect(isDateTimeCompact('20250318240000')).toBe(false);
    expect(isDateTimeCompact('20250230080211')).toBe(false);
    expect(isDateTimeCompact('2025030408021')).toBe(false);
  });
  it('date-compact', () => {
    expect(isDateCompact('20250304')).toBe(true);
    expect(isDateCompact('20000229')).toBe(true); // divisible by 400
    expect(isDateCompact('19000229')).toBe(false); // divisible by 100 only
    expect(isDateCompact('20251301')).toBe(false);
  });
  it('isRealDate', () => {
    expect(isRealDate(2024, 2, 29)).toBe(true);
    expect(isRealDate(2023, 2, 29)).toBe(false);
    expect(isRealDate(2023, 0, 1)).toBe(false);
  });
});

describe('messages', () => {
  it('every format has a Vietnamese / English message', () => {
    for (const f of HUB_FORMATS) expect(formatMessage(f.name)).toMatch(/.+ \/ .+/);
    for (const iso of ['date', 'date-time', 'email', 'uri', 'uuid']) expect(formatMessage(iso)).toMatch(/.+ \/ .+/);
    expect(formatMessage('no-such-format')).toBeUndefined();
  });
});
