import { isPlainObject } from '../harness.js';
import { CONFIRM_FIELDS, maXacThuc } from './checksum.js';
import type { InitMessage } from './validate.js';

/**
 * The confirmation callback the platform sends to a partner once the payer has paid (or failed), with
 * the fields both public implementations read (VN-SYSTEMS §2): LoaiBanTin, MaLoi, MaDoiTac, MaThamChieu,
 * SoTien, MaTienTe, MaGiaoDich, MaNganHang, ThoiGianGD, ThongTinGiaoDich, MaXacThuc.
 *
 * Tests and the demo also need callbacks that must be refused, so a callback can be mis-signed on purpose.
 */

export const SIGNINGS = ['valid', 'wrong-checksum', 'wrong-secret', 'tampered-amount', 'no-checksum'] as const;
/**
 * - valid: signed with the shared secret;
 * - wrong-checksum: a well-formed digest that belongs to no message;
 * - wrong-secret: signed correctly, but with another secret (a forger's);
 * - tampered-amount: signed, then SoTien changed on the way (a man in the middle);
 * - no-checksum: MaXacThuc left out.
 */
export type Signing = (typeof SIGNINGS)[number];

/** The value of LoaiBanTin in a callback is not in public code; CONFIRM is our guess. */
export const CONFIRM_MESSAGE_TYPE = 'CONFIRM';

export interface CallbackFacts {
  maLoi: string;
  maGiaoDich: string;
  maNganHang: string;
  thoiGianGD: string;
}

export function confirmFor(init: InitMessage, facts: CallbackFacts): Record<string, unknown> {
  return {
    LoaiBanTin: CONFIRM_MESSAGE_TYPE,
    MaLoi: facts.maLoi,
    MaDoiTac: init.MaDoiTac,
    MaThamChieu: init.MaThamChieu,
    // A number: Thanh Hóa reads SoTien as an int, OpenCPS with getInt.
    SoTien: Number(init.SoTien),
    MaTienTe: 'VND',
    MaGiaoDich: facts.maGiaoDich,
    MaNganHang: facts.maNganHang,
    ThoiGianGD: facts.thoiGianGD,
    ThongTinGiaoDich: init.ThongTinGiaoDich,
  };
}

const A_FORGERS_SECRET = 'not-the-shared-secret';
const NOBODYS_DIGEST = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export function signConfirm(message: Record<string, unknown>, signing: Signing, secret: string): Record<string, unknown> {
  switch (signing) {
    case 'valid':
      return { ...message, MaXacThuc: maXacThuc(message, CONFIRM_FIELDS, secret) };
    case 'wrong-checksum':
      return { ...message, MaXacThuc: NOBODYS_DIGEST };
    case 'wrong-secret':
      return { ...message, MaXacThuc: maXacThuc(message, CONFIRM_FIELDS, A_FORGERS_SECRET) };
    case 'tampered-amount':
      return { ...message, MaXacThuc: maXacThuc(message, CONFIRM_FIELDS, secret), SoTien: Number(message.SoTien) + 1_000 };
    case 'no-checksum':
      return { ...message };
  }
}

/**
 * The reply's MaXacThuc, against the callback's: both public implementations (OpenCPS
 * `createResponseMessage`, Thanh Hóa `ConfirmDvcPaymentCommandHandler`) echo the callback's value.
 */
export type ReplyMaXacThuc = 'echoed' | 'different' | 'absent';

export interface PostedConfirm {
  /** HTTP status of the partner's answer, or 0 when it could not be reached. */
  status: number;
  reply?: unknown;
  /** Whether the reply echoes the callback's MaXacThuc. */
  replyMaXacThuc: ReplyMaXacThuc;
  error?: string;
}

export async function postConfirm(url: string, message: Record<string, unknown>, timeoutMs: number): Promise<PostedConfirm> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', accept: 'application/json' },
      body: JSON.stringify(message),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    return { status: 0, replyMaXacThuc: 'absent', error: (error as Error).message };
  }
  const text = await response.text();
  let reply: unknown;
  try {
    reply = text ? JSON.parse(text) : undefined;
  } catch {
    reply = text;
  }
  return { status: response.status, reply, replyMaXacThuc: replyMaXacThucOf(reply, message) };
}

function replyMaXacThucOf(reply: unknown, callback: Record<string, unknown>): ReplyMaXacThuc {
  if (!isPlainObject(reply) || reply.MaXacThuc === undefined) return 'absent';
  return reply.MaXacThuc === callback.MaXacThuc ? 'echoed' : 'different';
}

/** yyyyMMddHHmmss in Asia/Ho_Chi_Minh (UTC+07:00 all year). */
export function compactVnTime(date: Date): string {
  return new Date(date.getTime() + 7 * 3_600_000).toISOString().slice(0, 19).replace(/\D/g, '');
}
