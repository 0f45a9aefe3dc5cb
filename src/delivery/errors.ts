import { HubError } from '../core/errors.js';

/**
 * The caller no longer holds the delivery: its lease expired and another worker claimed it, or it was
 * already completed / dead-lettered. Nothing was changed. The worker logs it and moves on; the holder
 * of the current lease settles the delivery.
 */
export function leaseLost(id: string): HubError {
  return new HubError('server.lease-lost', `delivery ${id}: lease lost (claimed again after the lease expired, or already finished); nothing changed`, { status: 409 });
}

export function isLeaseLost(error: unknown): boolean {
  return error instanceof HubError && error.type === 'server.lease-lost';
}

/** Reason recorded when a stored payload cannot be opened (data key changed, or the row was tampered with). */
export function unsealableReason(error: unknown): string {
  return `server.unsealable: the stored payload cannot be opened (${error instanceof Error ? error.message : 'unknown error'}); check LIENTHONG_DATA_KEY, then replay`;
}

/** Why a dead letter cannot be replayed once retention dropped its payload (see QueueDriver.purgeDead). */
export const PAYLOAD_DROPPED = 'payload dropped by retention (store.payloadRetention): this dead letter can no longer be replayed, only discarded';
