import { HubError } from '../core/errors.js';

/**
 * Keyset page position: the (received_at, id) of the last item of a page. Opaque to callers
 * (base64url JSON), so its shape may change without breaking anyone who just passes it back.
 */
export interface PagePosition {
  receivedAt: number;
  id: string;
}

export function encodeCursor(position: PagePosition): string {
  return Buffer.from(JSON.stringify([position.receivedAt, position.id]), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): PagePosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || !Number.isSafeInteger(parsed[0]) || typeof parsed[1] !== 'string') {
    throw new HubError('client.bad-cursor', 'Con trỏ phân trang không hợp lệ / invalid page cursor: pass back the `next` value of a previous page unchanged', {
      detail: [{ field: 'cursor', reason: 'not a cursor returned by this API', code: 'bad-cursor' }],
    });
  }
  return { receivedAt: parsed[0] as number, id: parsed[1] as string };
}
