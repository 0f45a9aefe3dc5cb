import { randomUUID } from 'node:crypto';
import { MockAgent } from 'undici';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Registry } from '../../src/config/registry.js';
import type { OperationConfig } from '../../src/config/types.js';
import { HubError } from '../../src/core/errors.js';
import { callOperation } from '../../src/pipeline/call.js';
import { createPeers } from '../../src/pipeline/peers.js';
import { checksums, conformers, noSoapSecurity } from '../../src/pipeline/steps.js';
import { loadShipped } from '../support/hub.js';
import { PAYMENT_INIT_REQUEST } from '../support/payment-request.js';

/**
 * A sync call to an operation that declares `result:` honours the peer's verdict inside its 200 answer, as a delivery
 * does: "under maintenance" is a 503 the caller may retry, a refusal a 502, never a made-up "not found" or a refusal
 * mapped as if it were an answer. The shipped payment INIT operation, given a `result:` rule, against MockAgent.
 */
const PLATFORM = 'http://payment.test';

describe('the peer\'s verdict on a sync call', () => {
  let registry: Registry;
  const agents: MockAgent[] = [];
  beforeAll(() => {
    registry = loadShipped({ DVCQG_PAYMENT_URL: PLATFORM });
  }, 60_000);
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.close()));
  });

  const request = PAYMENT_INIT_REQUEST;

  async function call(answer: Record<string, unknown>) {
    const agent = new MockAgent();
    agents.push(agent);
    agent.disableNetConnect();
    agent.get(PLATFORM).intercept({ path: '/paymentplatform/init', method: 'POST' }).reply(200, answer);
    const connector = registry.connectors.get('dvcqg-payment')!;
    const operation: OperationConfig = { ...connector.operations.INIT!, result: { codeField: 'MaLoi', messageField: 'MoTaLoi', success: ['00'], retryable: ['99'] } };
    const ctx = { registry, peers: createPeers(registry, agent).byConnector, conform: conformers(registry), checksums: checksums(registry), soap: noSoapSecurity, now: () => new Date() };
    return callOperation(ctx, { connector, operation }, request, { messageId: randomUUID(), correlationId: randomUUID(), newId: randomUUID });
  }

  it('answers as usual when the peer says success', async () => {
    const answer = await call({ MaLoi: '00', MoTaLoi: 'Thành công', MaDoiTac: '000.00.00.H56', MaThamChieu: 'dvc00014H562503040007', UrlThanhToan: 'https://thanhtoan.example.invalid/pay/1', ThoiGianGD: '20250304091501' });
    expect(answer).toMatchObject({ paymentRef: 'dvc00014H562503040007', status: 'INITIATED', resultCode: '00' });
  });

  it('a retryable code is a 503, with the peer\'s words kept short and without long digit runs', async () => {
    const error = await call({ MaLoi: '99', MoTaLoi: `Hệ thống đang bảo trì, liên hệ 0912999901. ${'x'.repeat(500)}` }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HubError);
    expect(error).toMatchObject({ type: 'transport.peer-rejected-retryable', status: 503 });
    const { message, detail } = error as HubError;
    expect(message).toContain('99 Hệ thống đang bảo trì, liên hệ 09…(10 chữ số / digits)');
    expect(message).not.toContain('0912999901');
    expect(detail[0]!.reason.length).toBeLessThanOrEqual(201);
  });

  it('any other code is a 502 refusal, not an answer', async () => {
    await expect(call({ MaLoi: '07', MoTaLoi: 'Mã xác thực không hợp lệ' })).rejects.toMatchObject({ type: 'transport.peer-rejected', status: 502, detail: [{ code: '07', reason: 'Mã xác thực không hợp lệ' }] });
  });

  it('an answer without the code field says so', async () => {
    await expect(call({ MoTaLoi: 'x' })).rejects.toMatchObject({ type: 'transport.peer-rejected', detail: [{ code: '(no code)', reason: 'the answer has no MaLoi (result.codeField) to judge it by' }] });
  });
});
