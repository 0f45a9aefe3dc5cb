import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Registry } from '../../src/config/registry.js';
import type { Delivery } from '../../src/delivery/types.js';
import { createDeliverer } from '../../src/pipeline/deliver.js';
import type { HubAnswer, OtherHubs } from '../../src/pipeline/hubs.js';
import { PROGRESS_SERVICE, makeFederation } from '../support/federation.js';
import { loadConfig } from '../support/hub.js';

/**
 * Deliveries to a service another hub serves, as the province hub of test/support/federation.ts makes them. The other
 * hub stands in as a function that behaves as a hub does: it refuses a signed message id it has seen (a replay), and
 * answers a repeated idempotency key without delivering again.
 */
describe('delivering to another hub', () => {
  let registry: Registry;
  beforeAll(() => {
    const fed = makeFederation({ province: 1, national: 2 }); // no hub is started: the ports are never dialled
    registry = loadConfig(fed.province.root);
  }, 60_000);

  function otherHub(answers: number[]) {
    const seenIds = new Set<string>();
    const delivered = new Set<string>();
    const sent: Array<{ messageId: string; idempotencyKey?: string }> = [];
    const hubs: OtherHubs = {
      async send(_remote, body, ids) {
        sent.push({ messageId: ids.messageId, idempotencyKey: ids.idempotencyKey });
        const answer = (status: number, payload: unknown): HubAnswer => ({ status, body: Buffer.from(JSON.stringify(payload)), durationMs: 1, requestBytes: body.length });
        if (seenIds.has(ids.messageId)) return answer(401, { type: 'trust.replayed', status: 401, message: 'this message id was received before' });
        seenIds.add(ids.messageId);
        const status = answers.shift() ?? 202;
        if (status !== 202) return answer(status, { type: 'server.unavailable', status, message: 'try again later' });
        const duplicate = delivered.has(ids.idempotencyKey!);
        delivered.add(ids.idempotencyKey!);
        return answer(202, { messageId: randomUUID(), status: duplicate ? 'duplicate' : 'accepted' });
      },
      close: async () => undefined,
    };
    return { hubs, sent, delivered };
  }

  const delivery = (): Delivery => ({
    id: randomUUID(), messageId: randomUUID(), routeId: 'dossier-status', destination: PROGRESS_SERVICE, orderingKey: '000.00.14.H56-250307-00001',
    payload: JSON.stringify({ dossierCode: '000.00.14.H56-250307-00001' }), acceptedAt: Date.now(), state: 'active', attempts: 0, availableAt: Date.now(),
  });

  it('signs each attempt as a new message with the same idempotency key, so that a retry is not refused as a replay', async () => {
    const other = otherHub([503]);
    const deliver = createDeliverer(registry, new Map(), other.hubs);
    const d = delivery();
    const first = await deliver(d);
    expect(first).toMatchObject({ ok: false, httpStatus: 503 });
    expect(first.failure?.permanent).not.toBe(true);
    const second = await deliver({ ...d, attempts: 1 });
    expect(second).toMatchObject({ ok: true, httpStatus: 202 });
    expect(other.sent).toHaveLength(2);
    expect(other.sent[0]!.messageId).not.toBe(other.sent[1]!.messageId);
    expect(other.sent.map((s) => s.idempotencyKey)).toEqual([d.id, d.id]);
  });

  it('a repeat after the other hub accepted (its answer lost) is answered as a duplicate, not delivered twice', async () => {
    const other = otherHub([]);
    const deliver = createDeliverer(registry, new Map(), other.hubs);
    const d = delivery();
    expect((await deliver(d)).ok).toBe(true);
    expect((await deliver({ ...d, attempts: 1 })).ok).toBe(true);
    expect(other.delivered.size).toBe(1);
  });
});
