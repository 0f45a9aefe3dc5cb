import { isPlainObject } from '../harness.js';

/**
 * Checks of the payment result the hub sends to the one-stop system (lienthong's proposal,
 * schemas/onegate-h56/payment-confirm.request.json, written again here: the simulator is a stranger).
 */

export type PaymentResult = {
  maThamChieu: string;
  maHoSo?: string;
  trangThai: 'DA_THANH_TOAN' | 'THAT_BAI';
  maLoi: string;
  soTien: number;
  maGiaoDich: string;
  maNganHang?: string;
  thoiGianThanhToan: string;
  noiDung?: string;
  maThongDiep: string;
};

export type ResultInvalid = { field: string; reason: string };

const TEXT_FIELDS = ['maThamChieu', 'maLoi', 'maGiaoDich', 'maThongDiep'] as const;
const OPTIONAL_TEXT = ['maHoSo', 'maNganHang', 'noiDung'] as const;
const STATUSES = ['DA_THANH_TOAN', 'THAT_BAI'];
const MAX_TEXT = 255;

/** dd/MM/yyyy HH:mm:ss with a real calendar date and a 24-hour clock. */
function isDmyTime(value: string): boolean {
  const m = /^(\d{2})\/(\d{2})\/(\d{4}) (\d{2}):(\d{2}):(\d{2})$/.exec(value);
  if (!m) return false;
  const [d, mo, y, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return false;
  return d <= new Date(Date.UTC(y, mo, 0)).getUTCDate();
}

export function checkPaymentResult(body: unknown): { ok: true; value: PaymentResult } | { ok: false; error: ResultInvalid } {
  const bad = (field: string, reason: string) => ({ ok: false as const, error: { field, reason } });
  if (!isPlainObject(body)) return bad('(body)', 'đối tượng JSON / JSON object');
  for (const key of TEXT_FIELDS) {
    const v = body[key];
    if (typeof v !== 'string' || !v.trim() || v.length > MAX_TEXT) return bad(key, 'bắt buộc, kiểu chuỗi / required string');
  }
  for (const key of OPTIONAL_TEXT) {
    const v = body[key];
    if (v !== undefined && (typeof v !== 'string' || v.length > MAX_TEXT)) return bad(key, 'kiểu chuỗi / string');
  }
  if (!STATUSES.includes(body.trangThai as string)) return bad('trangThai', `một trong ${STATUSES.join('|')} / one of ${STATUSES.join('|')}`);
  if (typeof body.soTien !== 'number' || !Number.isInteger(body.soTien) || body.soTien < 0) return bad('soTien', 'số nguyên không âm / non-negative integer');
  if (typeof body.thoiGianThanhToan !== 'string' || !isDmyTime(body.thoiGianThanhToan)) return bad('thoiGianThanhToan', 'dd/MM/yyyy HH:mm:ss');
  return { ok: true, value: body as PaymentResult };
}
