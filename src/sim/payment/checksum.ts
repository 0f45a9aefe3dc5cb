import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * The payment platform's MaXacThuc, written from the published field orders (VN-SYSTEMS §2; OpenCPS
 * PayGateUtil, Thanh Hóa DvcPaymentService / ConfirmDvcPaymentCommandHandler), not from the hub's code:
 * SHA-256, lowercase hex, of the fields joined by `|`, then `|` and the shared secret. An absent field
 * counts as "", as both public implementations read it.
 */

/** Fields of the INIT message the checksum covers, in order. ThongTinBienLai is not covered. */
export const INIT_FIELDS = [
  'LoaiBanTin', 'PhienBan', 'MaDoiTac', 'MaThamChieu', 'SoTien', 'LoaiHinhThanhToan', 'MaKenhThanhToan',
  'MaThietBi', 'NgonNgu', 'MaTienTe', 'MaNganHang', 'ThongTinGiaoDich', 'ThoiGianGD', 'Ip',
] as const;

/** Fields of the confirmation callback, in order: ThoiGianGD comes before ThongTinGiaoDich here. */
export const CONFIRM_FIELDS = [
  'LoaiBanTin', 'MaLoi', 'MaDoiTac', 'MaThamChieu', 'SoTien', 'MaTienTe', 'MaGiaoDich', 'MaNganHang', 'ThoiGianGD', 'ThongTinGiaoDich',
] as const;

function text(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : String(value);
}

export function maXacThuc(message: Record<string, unknown>, fields: readonly string[], secret: string): string {
  const covered = [...fields.map((field) => text(message[field])), secret].join('|');
  return createHash('sha256').update(covered, 'utf8').digest('hex');
}

/** Whether `message.MaXacThuc` is right; hex digits in either case count, as C# "x2"/"X2" differ. */
export function hasValidMaXacThuc(message: Record<string, unknown>, fields: readonly string[], secret: string): boolean {
  const received = message.MaXacThuc;
  if (typeof received !== 'string' || !/^[0-9a-fA-F]{64}$/.test(received)) return false;
  return timingSafeEqual(Buffer.from(received.toLowerCase(), 'hex'), Buffer.from(maXacThuc(message, fields, secret), 'hex'));
}
