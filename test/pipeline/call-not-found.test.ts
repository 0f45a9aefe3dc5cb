import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { MockAgent } from 'undici';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadRegistry } from '../../src/config/load.js';
import type { Registry } from '../../src/config/registry.js';
import type { OperationConfig } from '../../src/config/types.js';
import { callOperation } from '../../src/pipeline/call.js';
import { createPeers } from '../../src/pipeline/peers.js';
import { checksums, conformers, noSoapSecurity } from '../../src/pipeline/steps.js';
import { copyOfShipped, edit } from '../support/config-copy.js';
import { loadShipped } from '../support/hub.js';
import { PAYMENT_INIT_REQUEST } from '../support/payment-request.js';

/**
 * Ministry services say "no such record" with HTTP 404 or with a result code ({ma_loi: "01"}): `notFound.status` and
 * `notFound.codes` make those the caller's 404 client.not-found, not a 502 "the peer failed". The shipped payment INIT
 * operation, given such rules, against MockAgent.
 */
const PLATFORM = 'http://payment.test';

describe('notFound by HTTP status or result code on a sync call', () => {
  let registry: Registry;
  const agents: MockAgent[] = [];
  beforeAll(() => {
    registry = loadShipped({ DVCQG_PAYMENT_URL: PLATFORM });
  }, 60_000);
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.close()));
  });

  const request = PAYMENT_INIT_REQUEST;
  const result = { codeField: 'MaLoi', messageField: 'MoTaLoi', success: ['00'], retryable: ['99'] };

  async function call(status: number, answer: Record<string, unknown>, extra: Partial<OperationConfig>) {
    const agent = new MockAgent();
    agents.push(agent);
    agent.disableNetConnect();
    agent.get(PLATFORM).intercept({ path: '/paymentplatform/init', method: 'POST' }).reply(status, answer);
    const connector = registry.connectors.get('dvcqg-payment')!;
    const operation: OperationConfig = { ...connector.operations.INIT!, ...extra };
    const ctx = { registry, peers: createPeers(registry, agent).byConnector, conform: conformers(registry), checksums: checksums(registry), soap: noSoapSecurity, now: () => new Date() };
    return callOperation(ctx, { connector, operation }, request, { messageId: randomUUID(), correlationId: randomUUID(), newId: randomUUID });
  }

  it('an HTTP status listed in notFound.status is the caller\'s 404', async () => {
    await expect(call(404, { message: 'not found' }, { notFound: { status: [404] } })).rejects.toMatchObject({ type: 'client.not-found', status: 404 });
  });

  it('an HTTP 404 without notFound.status stays a 502 peer error', async () => {
    await expect(call(404, { message: 'not found' }, {})).rejects.toMatchObject({ type: 'transport.peer-error', status: 502 });
  });

  it('a result code listed in notFound.codes is the caller\'s 404, judged before the verdict', async () => {
    await expect(call(200, { MaLoi: '01', MoTaLoi: 'Không tìm thấy' }, { result, notFound: { codes: ['01'] } })).rejects.toMatchObject({ type: 'client.not-found', status: 404 });
  });

  it('other codes are still judged by result:', async () => {
    await expect(call(200, { MaLoi: '07', MoTaLoi: 'Sai' }, { result, notFound: { codes: ['01'] } })).rejects.toMatchObject({ type: 'transport.peer-rejected', status: 502 });
  });
});

describe('check: notFound', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const env: NodeJS.ProcessEnv = { ...process.env, CSDLDC_URL: 'http://127.0.0.1:8091' };

  it('accepts notFound.status, and missing with status together', () => {
    const dir = copyOfShipped();
    dirs.push(dir);
    edit(dir, 'connectors/csdldc.yaml', 'notFound: { missing: CongdanCollection.CongDan }', 'notFound: { missing: CongdanCollection.CongDan, status: [404] }');
    const { registry, issues } = loadRegistry(dir, { env });
    expect(issues.filter((i) => i.severity === 'error')).toEqual([]);
    expect(registry!.connectors.get('csdldc')!.operations.TraCuuThongTinCongDan!.notFound).toEqual({ missing: 'CongdanCollection.CongDan', status: [404] });
  });

  it('refuses notFound.codes on an operation without result: (nothing says where the code is)', () => {
    const dir = copyOfShipped();
    dirs.push(dir);
    const line = edit(dir, 'connectors/csdldc.yaml', 'notFound: { missing: CongdanCollection.CongDan }', 'notFound: { codes: ["01"] }');
    const issue = loadRegistry(dir, { env }).issues.find((i) => i.severity === 'error' && i.file === 'connectors/csdldc.yaml');
    expect(issue).toMatchObject({ line, field: 'operations.TraCuuThongTinCongDan.notFound.codes' });
    expect(issue!.message).toContain('has no result:');
  });

  it('refuses an empty notFound', () => {
    const dir = copyOfShipped();
    dirs.push(dir);
    edit(dir, 'connectors/csdldc.yaml', 'notFound: { missing: CongdanCollection.CongDan }', 'notFound: {}');
    expect(loadRegistry(dir, { env }).issues.some((i) => i.severity === 'error' && i.file === 'connectors/csdldc.yaml' && /notFound/.test(`${i.field} ${i.message}`))).toBe(true);
  });
});
