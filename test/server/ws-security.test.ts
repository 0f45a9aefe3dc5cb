import { createPrivateKey } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { loadRegistry } from '../../src/config/load.js';
import { startHub, type RunningHub } from '../../src/server/hub.js';
import { createLogger } from '../../src/server/logger.js';
import { startPopulationSim } from '../../src/sim/population/server.js';
import { createDevCa, issueCertificate, type PemPair } from '../../src/trust/pki.js';
import { signSoapEnvelope, verifySoapEnvelope } from '../../src/trust/xml-signature.js';
import { LogCapture, REPO, hubEnv } from '../support/hub.js';

/**
 * SOAP peers that require WS-Security: the population database (outbound) and a legacy one-stop system
 * (inbound). The hub signs the Body and a Timestamp of what it sends with its own key, and verifies what
 * they send against their pinned certificates before anything parses it.
 */
describe('WS-Security with SOAP peers', () => {
  let ca: PemPair;
  let hubPair: PemPair;
  let peerPair: PemPair;
  let strangerPair: PemPair;
  let hub: RunningHub;
  let peer: FastifyInstance;
  let closeSim: () => Promise<void>;
  /** How the signing peer answers: signed by its own key, by a stranger's, or not at all. */
  let answerWith: 'peer' | 'stranger' | 'unsigned' = 'peer';
  const received: Array<{ verified: boolean; reason?: string }> = [];

  beforeAll(async () => {
    ca = createDevCa({ commonName: 'CA kiểm thử WS-Security' });
    hubPair = issueCertificate({ ca, commonName: 'hub-tinh', participant: 'VN/GOV/000.00.00.H56/LIENTHONG', usage: 'hub' });
    peerPair = issueCertificate({ ca, commonName: 'csdldc', participant: 'VN/GOV/000.00.00.G01/CSDLDC', usage: 'server' });
    strangerPair = issueCertificate({ ca, commonName: 'ke-la', participant: 'VN/GOV/000.00.00.G01/KHAC', usage: 'server' });
    const sim = await startPopulationSim({ host: '127.0.0.1', port: 0 });
    closeSim = () => sim.close();

    // The signing peer: checks the hub's signature, asks the simulator, signs the answer.
    peer = Fastify();
    peer.addContentTypeParser('text/xml', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    peer.post('/CSDLDanCu', async (req, reply) => {
      try {
        verifySoapEnvelope(req.body as Buffer, { certificates: [hubPair.certPem] });
        received.push({ verified: true });
      } catch (error) {
        received.push({ verified: false, reason: (error as Error).message });
        return reply.code(500).send('unsigned');
      }
      const answer = await request(`${sim.url}/CSDLDanCu`, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: req.headers.soapaction as string }, body: req.body as Buffer });
      const xml = await answer.body.text();
      const signer = answerWith === 'stranger' ? strangerPair : peerPair;
      reply.type('text/xml; charset=utf-8').send(answerWith === 'unsigned' ? xml : signSoapEnvelope(xml, { key: createPrivateKey(signer.keyPem), certificatePem: signer.certPem }));
    });
    await peer.listen({ host: '127.0.0.1', port: 0 });
    const peerUrl = `http://127.0.0.1:${(peer.server.address() as { port: number }).port}`;

    // A configuration root like the shipped one, with WS-Security on both SOAP connectors and a key for the hub.
    const root = mkdtempSync(join(tmpdir(), 'lienthong-wss-'));
    for (const part of ['schemas', 'mappings']) symlinkSync(join(REPO, part), join(root, part));
    mkdirSync(join(root, 'connectors'));
    for (const file of readdirSync(join(REPO, 'connectors'))) copyFileSync(join(REPO, 'connectors', file), join(root, 'connectors', file));
    mkdirSync(join(root, 'keys'));
    writeFileSync(join(root, 'keys', 'hub.key'), hubPair.keyPem);
    writeFileSync(join(root, 'keys', 'hub.crt'), hubPair.certPem);
    writeFileSync(join(root, 'keys', 'ca.crt'), ca.certPem);
    writeFileSync(join(root, 'keys', 'csdldc.crt'), peerPair.certPem);
    writeFileSync(join(root, 'keys', 'legacy.crt'), strangerPair.certPem);
    const wsSecurity = (cert: string) => `wsSecurity:\n  peerCertificate: keys/${cert}\n`;
    const insertAfterSoap = (file: string, block: string) => {
      const text = readFileSync(join(root, 'connectors', file), 'utf8');
      writeFileSync(join(root, 'connectors', file), text.replace(/\noperations:\n/, `\n${block}operations:\n`));
    };
    insertAfterSoap('csdldc.yaml', wsSecurity('csdldc.crt'));
    insertAfterSoap('motcua-legacy.yaml', wsSecurity('legacy.crt'));
    mkdirSync(join(root, 'config'));
    copyFileSync(join(REPO, 'config', 'hub.yaml'), join(root, 'config', 'hub.yaml'));
    appendFileSync(join(root, 'config', 'hub.yaml'), `trust:\n  key: keys/hub.key\n  certificate: keys/hub.crt\n  anchors: [keys/ca.crt]\n`);

    const env = { ...hubEnv({}), CSDLDC_URL: peerUrl, LIENTHONG_DATA_DIR: mkdtempSync(join(tmpdir(), 'lienthong-wss-data-')) };
    const { registry, issues } = loadRegistry(root, { env });
    if (!registry) throw new Error(issues.map((i) => `${i.file}:${i.line} ${i.message}`).join('\n'));
    hub = await startHub({ registry, log: createLogger({ destination: new LogCapture() }), host: '127.0.0.1', port: 0, env });
  });

  afterAll(async () => {
    await hub?.close();
    await peer?.close();
    await closeSim?.();
  });

  const lookup = () => request(`${hub.url}/v1/in/onegate-h56/citizen-lookup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ soDinhDanh: '038095999901', mucDich: 'Kiểm thử' }) });

  it('signs its request, and accepts the answer signed by the pinned peer certificate', async () => {
    answerWith = 'peer';
    const res = await lookup();
    const body = (await res.body.json()) as { congDan?: { hoVaTen: string } };
    expect(res.statusCode).toBe(200);
    expect(body.congDan?.hoVaTen).toBe('Trần Văn Thử');
    expect(received.at(-1)).toEqual({ verified: true });
  });

  it('refuses an unsigned answer from a peer that must sign (502 trust.signature-missing)', async () => {
    answerWith = 'unsigned';
    const res = await lookup();
    expect(res.statusCode).toBe(502);
    expect(await res.body.json()).toMatchObject({ type: 'trust.signature-missing' });
  });

  it('refuses an answer signed by another certificate than the pinned one, even a trusted one (502 trust.signature-invalid)', async () => {
    answerWith = 'stranger';
    const res = await lookup();
    expect(res.statusCode).toBe(502);
    expect(await res.body.json()).toMatchObject({ type: 'trust.signature-invalid' });
  });

  const legacyRequest = `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="urn:motcua:legacy:v1"><soap:Body><m:TraCuuCongDan><ApplicantsId>001199999902</ApplicantsId></m:TraCuuCongDan></soap:Body></soap:Envelope>`;

  it('takes a signed request from the legacy one-stop system and signs its reply', async () => {
    answerWith = 'peer';
    const signed = signSoapEnvelope(legacyRequest, { key: createPrivateKey(strangerPair.keyPem), certificatePem: strangerPair.certPem });
    const res = await request(`${hub.url}/v1/soap/motcua-legacy`, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8' }, body: signed });
    const text = await res.body.text();
    expect(res.statusCode, text).toBe(200);
    expect(text).toContain('LE THI MAU');
    expect(() => verifySoapEnvelope(text, { certificates: [hubPair.certPem] })).not.toThrow();
  });

  it('refuses an unsigned request from a system that must sign, with a SOAP Fault naming the reason and its 401 (HTTP 500, as SOAP 1.1 wants)', async () => {
    const res = await request(`${hub.url}/v1/soap/motcua-legacy`, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8' }, body: legacyRequest });
    const text = await res.body.text();
    expect(res.statusCode).toBe(500);
    expect(text).toContain('trust.signature-missing');
    expect(text).toContain('<TrangThai>401</TrangThai>');
  });
});
