import { MockAgent } from 'undici';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Registry } from '../../src/config/registry.js';
import type { Delivery } from '../../src/delivery/types.js';
import { createDeliverer } from '../../src/pipeline/deliver.js';
import { createPeers } from '../../src/pipeline/peers.js';
import { loadShipped } from '../support/hub.js';

/**
 * How a DVCQG answer inside HTTP 200 is judged, with the shipped connector (connectors/dvcqg.yaml) and the portal
 * played by undici's MockAgent: "đã tồn tại" turns an insert into an update; the same code with another message
 * is a refusal like any other.
 */
const PORTAL = 'http://dvcqg.test';

describe('judging the portal\'s answer', () => {
  let registry: Registry;
  let agent: MockAgent;
  const agents: MockAgent[] = [];
  beforeAll(() => {
    registry = loadShipped({ DVCQG_URL: PORTAL });
  }, 60_000);
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.close()));
  });

  const upsert = (): Delivery => ({
    id: 'd-1', messageId: 'm-1', routeId: 'dossier-sync', destination: 'dvcqg.DongBoHoSoMC', orderingKey: '000.00.14.H56-250304-0007', acceptedAt: Date.now(), state: 'active', attempts: 0, availableAt: Date.now(),
    payload: JSON.stringify({ dossierCode: '000.00.14.H56-250304-0007', procedure: { code: '1.001234', name: 'Đăng ký (mẫu)' }, channel: 'ONLINE', status: 'PROCESSING', applicant: { type: 'CITIZEN', personalId: '038095999901', idType: 'CCCD', name: 'Trần Văn Thử' }, receivedAt: '2025-03-04T08:02:11+07:00' }),
  });

  /** The portal logs in, then answers each DongBoHoSoMC with the next of `answers`; returns the isUpdating of each call. */
  function portal(answers: Array<{ error_code: string; message: string }>): string[] {
    agent = new MockAgent();
    agents.push(agent);
    agent.disableNetConnect();
    const pool = agent.get(PORTAL);
    pool.intercept({ path: '/dvcqg/auth', method: 'POST' }).reply(200, { error_code: '0', session: 's-1' }).persist();
    const seen: string[] = [];
    for (const answer of answers) {
      pool.intercept({ path: '/dvcqg/service', method: 'POST' }).reply(200, (options) => {
        seen.push((JSON.parse(String(options.body)) as { isUpdating: string }).isUpdating);
        return answer;
      });
    }
    return seen;
  }

  it('resends as an update when the message says "đã tồn tại" (any case, composed or decomposed)', async () => {
    for (const message of ['Hồ sơ đã tồn tại: 000.00.14.H56-250304-0007', 'HỒ SƠ ĐÃ TỒN TẠI'.normalize('NFD')]) {
      const seen = portal([{ error_code: '-3', message }, { error_code: '0', message: 'Thành công' }]);
      const result = await createDeliverer(registry, createPeers(registry, agent).byConnector)(upsert());
      expect(result.failure).toBeUndefined();
      expect(result.ok).toBe(true);
      expect(seen).toEqual(['False', 'True']);
    }
  });

  it('dead-letters the same code with another message instead of overwriting the dossier as an update', async () => {
    const seen = portal([{ error_code: '-3', message: 'Mã thủ tục không hợp lệ' }]);
    const result = await createDeliverer(registry, createPeers(registry, agent).byConnector)(upsert());
    expect(seen).toEqual(['False']);
    expect(result.ok).toBe(false);
    expect(result.failure).toMatchObject({ errorType: 'transport.peer-rejected', permanent: true, message: expect.stringContaining('-3 Mã thủ tục không hợp lệ') });
  });
});
