import { describe, expect, it } from 'vitest';
import { isSafeRequestId, maskDigitRuns, NOT_SHOWN, showName } from '../../src/core/personal-data.js';

describe('personal data in repeated text', () => {
  it('masks CCCD, CMND and phone numbers, also when grouped by spaces, dots or dashes', () => {
    const text = maskDigitRuns('CCCD 038095999901, CMND 012345678, SĐT 0912 345 678, 0912.345.678, 038-095-999-901');
    for (const leaked of ['038095999901', '012345678', '0912 345 678', '0912.345.678', '038-095-999-901', '345']) expect(text).not.toContain(leaked);
    expect(text).toContain('03…(12 chữ số / digits)');
    expect(text).toContain('09…(10 chữ số / digits)');
  });

  it('leaves short numbers, codes and dates alone', () => {
    const text = 'Mã lỗi -3, hồ sơ 000.00.14.H56, ngày 04/03/2025, 8 digits 12345678';
    expect(maskDigitRuns(text)).toBe(text);
  });

  it('shows a name only when it looks like a field name', () => {
    expect(showName('soDinhDanh')).toBe('soDinhDanh');
    expect(showName('ApplicantsId')).toBe('ApplicantsId');
    expect(showName('Trần Văn Thử')).toBe(NOT_SHOWN);
    expect(showName('TranVanThu038095999901')).toBe(NOT_SHOWN);
    expect(showName('a12345')).toBe(NOT_SHOWN);
    expect(showName('x'.repeat(65))).toBe(NOT_SHOWN);
  });

  it('takes a caller’s request id unless it may carry a person’s number', () => {
    for (const ok of ['mc-2025-000123', '01a24e40-fabe-7507-9c4d-0d67010e4296', '12345678-1234-1234-1234-123456789012', 'req:42']) expect(isSafeRequestId(ok), ok).toBe(true);
    for (const bad of ['001099999982', 'cccd-038095999901', 'sdt.0912345678', 'có dấu', 'x'.repeat(65), '']) expect(isSafeRequestId(bad), bad).toBe(false);
  });
});
