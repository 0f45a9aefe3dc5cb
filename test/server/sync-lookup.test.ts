import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startPopulationSim } from '../../src/sim/population/server.js';
import { startTestHub } from '../support/hub.js';
import { waitFor } from '../support/wait.js';

type Sim = Awaited<ReturnType<typeof startPopulationSim>>;
type Hub = Awaited<ReturnType<typeof startTestHub>>;

async function post(url: string, body: string, contentType = 'application/json', headers: Record<string, string> = {}) {
  const res = await request(url, { method: 'POST', body, headers: { 'content-type': contentType, ...headers } });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

/** A port with nothing listening: connect attempts are refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

describe('citizen lookup, end to end through the hub to the population database simulator', () => {
  let sim: Sim;
  let hub: Hub;

  beforeAll(async () => {
    sim = await startPopulationSim({ host: '127.0.0.1', port: 0 });
    hub = await startTestHub({ CSDLDC_URL: sim.url, CSDLDC_TIMEOUT_MS: '1500' });
  });
  afterAll(async () => {
    await hub?.close();
    await sim?.close();
  });

  it('answers a REST lookup in the province dialect, with Vietnamese text intact', async () => {
    const res = await post(`${hub.url}/v1/in/onegate-h56/citizen-lookup`, JSON.stringify({ soDinhDanh: '038095999901', mucDich: 'Kiểm thử' }), 'application/json', { 'x-correlation-id': 'corr-e2e-1' });
    expect(res.status, res.text).toBe(200);
    const body = JSON.parse(res.text);
    expect(body.ketQua).toBe('TIM_THAY');
    expect(body.congDan.soDinhDanh).toBe('038095999901');
    expect(body.congDan.hoVaTen).toBe('Trần Văn Thử');
    expect(body.congDan.gioiTinh).toBe('Nam');
    expect(body.congDan.ngaySinh).toMatch(/^\d{2}\/\d{2}\/1995$/);
    expect(body.maGiaoDich).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers['x-correlation-id']).toBe('corr-e2e-1');
    expect(sim.received().some((r) => r.operation === 'TraCuuThongTinCongDan')).toBe(true);
  });

  it('answers the legacy SOAP one-stop system in its own envelope, name upper-case without diacritics', async () => {
    const envelope = `<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="urn:motcua:legacy:v1">
  <soap:Body><m:TraCuuCongDan><ApplicantsId>001199999902</ApplicantsId><OfficerId>CB-9</OfficerId></m:TraCuuCongDan></soap:Body>
</soap:Envelope>`;
    const res = await post(`${hub.url}/v1/soap/motcua-legacy`, envelope, 'text/xml; charset=utf-8');
    expect(res.status, res.text).toBe(200);
    expect(res.headers['content-type']).toContain('text/xml');
    expect(res.text).toContain('urn:motcua:legacy:v1');
    expect(res.text).toMatch(/<CitizenName>LE THI MAU<\/CitizenName>/);
    expect(res.text).toContain('<Gender>0</Gender>');
  });

  it('says "not found" (404 client.not-found) when the population database has no such citizen', async () => {
    const res = await post(`${hub.url}/v1/in/onegate-h56/citizen-lookup`, JSON.stringify({ soDinhDanh: '038095999999' }));
    expect(res.status).toBe(404);
    expect(JSON.parse(res.text)).toMatchObject({ type: 'client.not-found', status: 404 });
  });

  it('reports a SOAP fault from the peer as 502 transport.peer-fault, with its reason', async () => {
    const res = await post(`${hub.url}/v1/in/onegate-h56/citizen-lookup`, JSON.stringify({ soDinhDanh: '038099999990' }));
    expect(res.status).toBe(502);
    const body = JSON.parse(res.text);
    expect(body.type).toBe('transport.peer-fault');
    expect(body.message).toMatch(/bận/);
    expect(body.messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.logId).toBeTruthy();
    // The destination failed it, not the caller: recorded as failed, apart from the caller's own mistakes.
    const recorded = await waitFor(async () => (await hub.messageLog.history(body.messageId))?.message, 10_000, 'the failed lookup in the message log');
    expect(recorded).toMatchObject({ state: 'failed', reason: expect.stringContaining('transport.peer-fault') });
    const metrics = await (await request(`${hub.url}/metrics`)).body.text();
    expect(metrics).toMatch(/lienthong_messages_total\{connector="onegate-h56",operation="citizen-lookup",outcome="failed"\} [1-9]/);
  });

  it('reports a peer that does not answer in time as 504 transport.timeout', async () => {
    // The simulator holds this CCCD for 30 s, longer than the test may run: a 504 at all means the hub gave up
    // at its own limit (CSDLDC_TIMEOUT_MS). How fast it does so is for `npm run bench`, not for this test.
    const calls = sim.received().length;
    const res = await post(`${hub.url}/v1/in/onegate-h56/citizen-lookup`, JSON.stringify({ soDinhDanh: '038099999991' }));
    expect(res.status).toBe(504);
    expect(JSON.parse(res.text).type).toBe('transport.timeout');
    expect(sim.received().length).toBeGreaterThan(calls); // the call reached the peer: it was not answered, not refused
  });

  it('keeps request and correlation ids on every log line and never logs personal data', async () => {
    const records = hub.logs.records().filter((r) => r.reqId);
    expect(records.length).toBeGreaterThan(3);
    for (const record of records) expect(record.correlationId).toBeTruthy();
    expect(records.some((r) => r.correlationId === 'corr-e2e-1' && r.msg === 'message delivered')).toBe(true);
    const text = hub.logs.text();
    for (const secret of ['038095999901', '001199999902', 'Trần', 'TRAN VAN', 'Giả Định', 'Kiểm thử']) expect(text).not.toContain(secret);
  });
});

describe('an unreachable population database', () => {
  it('gives 502 transport.unreachable, distinct from a timeout or a fault', async () => {
    const port = await closedPort();
    const hub = await startTestHub({ CSDLDC_URL: `http://127.0.0.1:${port}` });
    try {
      const res = await post(`${hub.url}/v1/in/onegate-h56/citizen-lookup`, JSON.stringify({ soDinhDanh: '038095999901' }));
      expect(res.status).toBe(502);
      expect(JSON.parse(res.text).type).toBe('transport.unreachable');
    } finally {
      await hub.close();
    }
  });
});
