import { createPrivateKey, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { startDvcqgSim, type DvcqgSim } from '../../src/sim/dvcqg/server.js';
import { startPopulationSim } from '../../src/sim/population/server.js';
import { verifyEvidence } from '../../src/trust/evidence.js';
import { requestHashOf, signMessage } from '../../src/trust/message-signature.js';
import { createDevCa, splitPemCertificates } from '../../src/trust/pki.js';
import { batchSigner, localKeySigner, type Signer } from '../../src/trust/signer.js';
import { freePort, startChildHub, type ChildHub } from '../support/child-hub.js';
import { LOOKUP_SERVICE, NATIONAL, PROGRESS_SERVICE, PROVINCE, lienthong, makeFederation, type Federation } from '../support/federation.js';
import { waitFor } from '../support/wait.js';
import { forgeCertificate } from '../trust/helpers.js';

/**
 * Two hub processes on 127.0.0.1, certificates made by `lienthong keys`: a province's one-stop system
 * reaches the population database and the national portal through the national hub exactly as it would
 * reach local ones; every message between the hubs is signed, over mutual TLS, checked and logged. Then
 * every way a hub-to-hub message can be untrustworthy is tried against the national hub directly.
 */
const lookup = { soDinhDanh: '038095999901', mucDich: 'Kiểm thử liên thông hai hub' };
const progress = (code: string, status: string, minute: number) => ({
  maHoSo: code, trangThai: status, thoiDiem: `04/03/2025 09:${String(minute).padStart(2, '0')}`, maThuTuc: '1.001234.000.00.00.H56', tenThuTuc: 'Đăng ký biến động (mẫu)', kenh: '2',
  nguoiXuLy: 'Trần Văn Thử', chucDanh: 'Chuyên viên', phongBan: 'Bộ phận một cửa', noiDungXuLy: 'Thẩm định', ngayBatDau: '04/03/2025 08:00', hanXuLy: '18/03/2025 17:00',
});
const canonicalLookup = (id = randomUUID()) => ({
  messageId: id, messageType: 'CitizenLookupRequest', occurredAt: '2025-03-04T09:15:00+07:00', correlationId: id, source: 'VN/GOV/000.00.00.H56/MOTCUA',
  operation: 'LOOKUP', personalId: '038095999901', idType: 'CCCD', purpose: 'Kiểm thử',
});

describe('two federated hubs', () => {
  let fed: Federation;
  let national: ChildHub;
  let province: ChildHub;
  let dvcqg: DvcqgSim;
  let closePopulation: () => Promise<void>;
  const keyFile = (name: string) => join(fed.keys, name);
  const agents: Agent[] = [];
  /** An mTLS client of the national hub presenting `name`'s certificate (or none). */
  const tlsAs = (name?: string) => {
    const agent = new Agent({ connect: { ca: fed.caPem, ...(name ? { cert: readFileSync(keyFile(`${name}.crt`)), key: readFileSync(keyFile(`${name}.key`)) } : {}) } });
    agents.push(agent);
    return agent;
  };
  const signerOf = (certFile: string, keyPem: string): Signer => batchSigner(localKeySigner(createPrivateKey(keyPem), splitPemCertificates(readFileSync(certFile, 'utf8'))));
  let provinceSigner: Signer;

  beforeAll(async () => {
    const population = await startPopulationSim({ port: 0 });
    closePopulation = () => population.close();
    dvcqg = await startDvcqgSim({ port: 0 });
    const ports = { province: await freePort(), national: await freePort() };
    fed = makeFederation(ports);
    // Certificates for the refusals below, made the operator's way, and one revoked before the national hub starts.
    fed.keysCli(['issue', '--ca-dir', fed.keys, '--participant', 'VN/GOV/000.00.00.H22/LIENTHONG', '--cn', 'hub-khac', '--ip', '127.0.0.1', '--name', 'other']);
    fed.keysCli(['issue', '--ca-dir', fed.keys, '--participant', PROVINCE, '--cn', 'hub-tinh-cu', '--name', 'revoked']);
    lienthong(['keys', 'revoke', '--ca', join(fed.keys, 'ca'), '--cert', keyFile('revoked.crt'), '--reason', 'keyCompromise']);
    national = await startChildHub({ CSDLDC_URL: population.url, DVCQG_URL: dvcqg.url }, ports.national, { root: fed.national.root, tls: { ca: fed.caPem } });
    province = await startChildHub({}, ports.province, { root: fed.province.root });
    provinceSigner = signerOf(keyFile('province.crt'), readFileSync(keyFile('province.key'), 'utf8'));
  }, 90_000);

  afterAll(async () => {
    await Promise.allSettled([province?.kill('SIGTERM'), national?.kill('SIGTERM')]);
    await Promise.allSettled([dvcqg?.close(), closePopulation?.(), provinceSigner?.close(), ...agents.map((a) => a.close())]);
  });

  const post = async (url: string, body: unknown) => {
    const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, any> };
  };

  it('carries a sync citizen lookup across both hubs, signed and over mTLS', async () => {
    const answer = await post(`${province.url}/v1/in/onegate-h56/citizen-lookup`, lookup);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ ketQua: 'TIM_THAY', congDan: { soDinhDanh: '038095999901', hoVaTen: 'Trần Văn Thử' } });
    // The national hub recorded the message it was sent, with who signed it.
    const logged = await admin(national, `/admin/messages?participant=${encodeURIComponent(PROVINCE)}`);
    expect(logged.items.some((m: { operation: string; state: string }) => m.operation === 'TraCuuThongTinCongDan' && m.state === 'delivered')).toBe(true);
  });

  it('carries an async status event across: accepted by the province hub, delivered by the national hub to DVCQG', async () => {
    const code = `000.00.14.H56-250304-${String(Date.now()).slice(-4)}`;
    const accepted = await post(`${province.url}/v1/in/onegate-h56/dossier-status`, progress(code, '4', 15));
    expect(accepted).toMatchObject({ status: 202, body: { status: 'accepted', deliveries: [PROGRESS_SERVICE] } });
    await waitFor(() => dvcqg.received().some((r) => r.service === 'CapNhatTienDoHoSoMC' && r.maHoSo === code && r.outcome === 'ok'), 15_000, 'delivered to DVCQG');
    const history = await waitFor(async () => {
      const h = await admin(province, `/admin/messages/${accepted.body.messageId}`);
      return h.message.state === 'delivered' && h;
    }, 10_000, 'province log says delivered');
    expect(history.events.find((e: { kind: string }) => e.kind === 'delivered')).toMatchObject({ destination: PROGRESS_SERVICE, httpStatus: 202 });
  });

  it('proves offline who sent a federated message, when, and that the log holding it is intact', async () => {
    const code = `000.00.14.H56-250304-${String(Date.now() + 1).slice(-4)}`;
    expect((await post(`${province.url}/v1/in/onegate-h56/dossier-status`, progress(code, '9', 30))).status).toBe(202);
    const received = await waitFor(async () => {
      const page = await admin(national, `/admin/messages?participant=${encodeURIComponent(PROVINCE)}&limit=50`);
      return page.items.find((m: { operation: string; state: string; dossierCode?: string }) => m.operation === 'CapNhatTienDoHoSoMC' && m.dossierCode === code && m.state === 'delivered');
    }, 15_000, 'the national hub delivered the event');
    const bundle = await admin(national, `/admin/messages/${received.id}/evidence`);
    const report = await verifyEvidence(bundle, { anchors: [fed.caPem] });
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.signature).toMatchObject({ client: PROVINCE, service: PROGRESS_SERVICE, verified: true });
    expect(report.checkpoints[0]!.signer).toContain(NATIONAL);
    // The same bundle with the dossier code changed no longer proves anything.
    const forged = JSON.parse(JSON.stringify(bundle).replace(code, code.replace(/\d$/, (d) => String((Number(d) + 1) % 10))));
    expect((await verifyEvidence(forged, { anchors: [fed.caPem] })).ok).toBe(false);
  });

  // ---- refusals, straight at the national hub ----

  async function send(options: { agent?: Agent; signer?: Signer; body?: string; tamper?: (headers: Record<string, string>) => void; time?: Date; client?: string; service?: string; messageId?: string; url?: string }) {
    const body = options.body ?? JSON.stringify(canonicalLookup());
    const service = options.service ?? LOOKUP_SERVICE;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (options.signer) Object.assign(headers, await signMessage(options.signer, Buffer.from(body), { messageId: options.messageId ?? randomUUID(), client: options.client ?? PROVINCE, service, time: options.time ?? new Date() }));
    options.tamper?.(headers);
    const res = await request(`${national.url}/v1/x/${options.url ?? service}`, { method: 'POST', headers, body, dispatcher: options.agent ?? tlsAs('province') });
    const text = await res.body.text();
    return { status: res.statusCode, body: JSON.parse(text) as Record<string, any> };
  }

  it('answers a well-signed direct call, so the refusals below are about what they change', async () => {
    const ok = await send({ signer: provinceSigner });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ messageType: 'CitizenRecord', personalId: '038095999901' });
  });

  it('refuses an unsigned message (401 trust.signature-missing)', async () => {
    const res = await send({});
    expect(res).toMatchObject({ status: 401, body: { type: 'trust.signature-missing' } });
  });

  it('refuses a signature of another message (401 trust.signature-invalid)', async () => {
    const other = await signMessage(provinceSigner, Buffer.from('{"khac":1}'), { messageId: randomUUID(), client: PROVINCE, service: LOOKUP_SERVICE, time: new Date() });
    const res = await send({ signer: provinceSigner, tamper: (h) => { h['x-lienthong-signature'] = other['x-lienthong-signature']!; } });
    expect(res).toMatchObject({ status: 401, body: { type: 'trust.signature-invalid' } });
  });

  it('refuses a body changed after signing (401 trust.body-mismatch)', async () => {
    const body = JSON.stringify(canonicalLookup());
    const headers = await signMessage(provinceSigner, Buffer.from(body), { messageId: randomUUID(), client: PROVINCE, service: LOOKUP_SERVICE, time: new Date() });
    const res = await request(`${national.url}/v1/x/${LOOKUP_SERVICE}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: body.replace('038095999901', '001199999902'), dispatcher: tlsAs('province') });
    expect(res.statusCode).toBe(401);
    expect(await res.body.json()).toMatchObject({ type: 'trust.body-mismatch' });
  });

  it('refuses an expired certificate (401 trust.certificate-invalid, expired)', async () => {
    const ca = { certPem: readFileSync(keyFile('ca.crt'), 'utf8'), keyPem: readFileSync(keyFile('ca.key'), 'utf8') };
    const expired = forgeCertificate({ cn: 'hub-het-han', issuer: ca, ca: false, notBefore: new Date(Date.now() - 10 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });
    const signer = batchSigner(localKeySigner(createPrivateKey(expired.keyPem), [expired.certPem]));
    const res = await send({ signer });
    await signer.close();
    expect(res).toMatchObject({ status: 401, body: { type: 'trust.certificate-invalid', detail: [{ code: 'expired' }] } });
  });

  it('refuses a revoked certificate (401 trust.certificate-invalid, revoked)', async () => {
    const signer = signerOf(keyFile('revoked.crt'), readFileSync(keyFile('revoked.key'), 'utf8'));
    const res = await send({ signer });
    await signer.close();
    expect(res).toMatchObject({ status: 401, body: { type: 'trust.certificate-invalid', detail: [{ code: 'revoked' }] } });
  });

  it('refuses a certificate from a CA it does not trust (401 trust.certificate-invalid, untrusted)', async () => {
    const stranger = createDevCa({ commonName: 'CA lạ (kiểm thử)' });
    const cert = forgeCertificate({ cn: 'hub-la', issuer: stranger, ca: false });
    const signer = batchSigner(localKeySigner(createPrivateKey(cert.keyPem), [cert.certPem]));
    const res = await send({ signer });
    await signer.close();
    expect(res).toMatchObject({ status: 401, body: { type: 'trust.certificate-invalid', detail: [{ code: 'untrusted' }] } });
  });

  it("refuses a certificate of another participant than the message's client (403 trust.wrong-participant)", async () => {
    const other = signerOf(keyFile('other.crt'), readFileSync(keyFile('other.key'), 'utf8'));
    const res = await send({ signer: other, client: PROVINCE });
    await other.close();
    expect(res).toMatchObject({ status: 403, body: { type: 'trust.wrong-participant' } });
  });

  it('refuses a TLS client certificate of another participant than the signer (403 trust.wrong-participant)', async () => {
    const res = await send({ signer: provinceSigner, agent: tlsAs('other') });
    expect(res).toMatchObject({ status: 403, body: { type: 'trust.wrong-participant', detail: [{ code: 'tls-signer-mismatch' }] } });
  });

  it('refuses a caller without a client certificate (401 trust.client-unauthenticated)', async () => {
    const res = await send({ signer: provinceSigner, agent: tlsAs() });
    expect(res).toMatchObject({ status: 401, body: { type: 'trust.client-unauthenticated' } });
  });

  it('refuses a replayed message id (401 trust.replayed)', async () => {
    const messageId = randomUUID();
    expect((await send({ signer: provinceSigner, messageId })).status).toBe(200);
    const again = await send({ signer: provinceSigner, messageId });
    expect(again).toMatchObject({ status: 401, body: { type: 'trust.replayed' } });
  });

  it('refuses a stale timestamp (401 trust.stale)', async () => {
    const res = await send({ signer: provinceSigner, time: new Date(Date.now() - 10 * 60_000) });
    expect(res).toMatchObject({ status: 401, body: { type: 'trust.stale', detail: [{ code: 'too-old' }] } });
  });

  it('refuses a service the client is not granted (403 trust.access-denied)', async () => {
    const other = signerOf(keyFile('other.crt'), readFileSync(keyFile('other.key'), 'utf8'));
    const res = await send({ signer: other, client: 'VN/GOV/000.00.00.H22/LIENTHONG', agent: tlsAs('other') });
    await other.close();
    expect(res).toMatchObject({ status: 403, body: { type: 'trust.access-denied' } });
  });

  it('signs its refusals too, bound to the request', async () => {
    const body = JSON.stringify(canonicalLookup());
    const headers = await signMessage(provinceSigner, Buffer.from(body), { messageId: randomUUID(), client: PROVINCE, service: PROGRESS_SERVICE, time: new Date() });
    const res = await request(`${national.url}/v1/x/${LOOKUP_SERVICE}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body, dispatcher: tlsAs('province') });
    expect(res.statusCode).toBe(403);
    expect(res.headers['x-lienthong-signature']).toBeTruthy();
    expect(res.headers['x-lienthong-request-hash']).toBeTruthy();
    expect(await res.body.json()).toMatchObject({ type: 'trust.wrong-service' });
  });

  it('signs what is refused before the pipeline reads the body too (415 media type or charset, 413 size), bound to the request', async () => {
    const small = JSON.stringify(canonicalLookup());
    const big = JSON.stringify({ ...canonicalLookup(), purpose: 'x'.repeat(1_100_000) });
    const cases: Array<[string, string, number, string]> = [
      ['text/plain', small, 415, 'client.unsupported-media-type'],
      ['application/json; charset=iso-8859-1', small, 415, 'client.unsupported-media-type'],
      ['application/json', big, 413, 'client.body-too-large'],
    ];
    for (const [contentType, body, status, type] of cases) {
      const headers = await signMessage(provinceSigner, Buffer.from(body), { messageId: randomUUID(), client: PROVINCE, service: LOOKUP_SERVICE, time: new Date() });
      const res = await request(`${national.url}/v1/x/${LOOKUP_SERVICE}`, { method: 'POST', headers: { ...headers, 'content-type': contentType }, body, dispatcher: tlsAs('province') });
      expect(res.statusCode, contentType).toBe(status);
      expect(res.headers['x-lienthong-signature'], contentType).toBeTruthy();
      expect(res.headers['x-lienthong-request-hash'], contentType).toBe(requestHashOf(headers));
      expect(await res.body.json()).toMatchObject({ type });
    }
  });

  it('records every refusal in its message log and counts it in /metrics', async () => {
    const rejected = await admin(national, '/admin/messages?state=rejected&limit=200');
    const reasons = rejected.items.map((m: { reason?: string }) => m.reason?.split(':', 1)[0]);
    for (const type of ['trust.signature-missing', 'trust.signature-invalid', 'trust.body-mismatch', 'trust.certificate-invalid', 'trust.wrong-participant', 'trust.client-unauthenticated', 'trust.replayed', 'trust.stale', 'trust.access-denied']) {
      expect(reasons).toContain(type);
    }
    const res = await request(`${national.url}/metrics`, { dispatcher: tlsAs() });
    const text = await res.body.text();
    expect(text).toMatch(/lienthong_trust_failures_total\{type="trust.replayed",code="replayed"\} 1/);
    expect(text).toMatch(/lienthong_trust_failures_total\{type="trust.certificate-invalid",code="revoked"\} 1/);
  });

  async function admin(hub: ChildHub, path: string): Promise<any> {
    const res = await request(`${hub.url}${path}`, { dispatcher: hub === national ? tlsAs() : undefined });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${path}: ${res.statusCode} ${text}`);
    return JSON.parse(text);
  }
});
