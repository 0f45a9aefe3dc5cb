import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from 'undici';
import { decide, DEFAULT_RETRY_POLICY } from '../../src/delivery/retry.js';
import { classify, createDispatcher, createPeer } from '../../src/transport/index.js';
import { createDevCa, issueCertificate, type PemPair } from '../../src/trust/pki.js';
import { rejection } from './helpers.js';

/**
 * TLS failures against a real HTTPS peer on 127.0.0.1 (certificates made as `lienthong keys` makes them): a
 * certificate that does not name the host of the URL, one from a CA the hub does not trust, and a plain-HTTP port
 * behind https:// each give transport.tls-failed, whose reason says what to change, and which is not retried.
 */
const PARTICIPANT = 'VN/GOV/000.00.00.G22/NGSP';
let ca: PemPair;
let server: Server;
let plain: HttpServer;
let port: number;
let plainPort: number;
const dispatchers: Agent[] = [];

function trusting(caPem: string): Agent {
  const dispatcher = createDispatcher({ connectTimeoutMs: 2_000, tls: { ca: caPem } });
  dispatchers.push(dispatcher);
  return dispatcher;
}

beforeAll(async () => {
  ca = createDevCa({ commonName: 'CA kiểm thử TLS' });
  // As docs/trust.md issued it before: an IP address only, no host name.
  const leaf = issueCertificate({ ca, commonName: 'hub-ngsp', participant: PARTICIPANT, usage: 'hub', ipAddresses: ['127.0.0.1'] });
  server = createServer({ key: leaf.keyPem, cert: leaf.certPem }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  plain = createHttpServer((_req, res) => res.end('plain'));
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
  plainPort = (plain.address() as AddressInfo).port;
});

afterAll(async () => {
  await Promise.all(dispatchers.map((d) => d.destroy()));
  server.closeAllConnections();
  plain.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await new Promise((resolve) => plain.close(resolve));
});

describe('TLS failures are transport.tls-failed, with what to do', () => {
  it('works when the URL names an address the certificate has', async () => {
    const peer = createPeer({ name: 'ngsp', baseUrl: `https://127.0.0.1:${port}` }, trusting(ca.certPem));
    const res = await peer.send({ path: '/v1/x' });
    expect(res.status).toBe(200);
  });

  it('a certificate that does not name the host: re-issue it with --dns <host>', async () => {
    const peer = createPeer({ name: 'ngsp', baseUrl: `https://localhost:${port}` }, trusting(ca.certPem));
    const e = await rejection(peer.send({ path: '/v1/x/038095999901' }));
    expect(e.type).toBe('transport.tls-failed');
    expect(e.status).toBe(502);
    expect(e.detail[0]?.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(e.detail[0]?.reason).toMatch(/does not name localhost \(it names .*IP Address:127\.0\.0\.1.*\): re-issue it with --dns localhost/);
    expect(e.message).toContain('--dns localhost');
    expect(e.message).not.toContain('038095999901');
  });

  it('a certificate from a CA the hub does not trust: add the CA to the anchors', async () => {
    const stranger = createDevCa({ commonName: 'CA lạ (kiểm thử)' });
    const peer = createPeer({ name: 'ngsp', baseUrl: `https://127.0.0.1:${port}` }, trusting(stranger.certPem));
    const e = await rejection(peer.send({ path: '/v1/x' }));
    expect(e.type).toBe('transport.tls-failed');
    expect(e.detail[0]?.code).toMatch(/^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN)$/);
    expect(e.detail[0]?.reason).toMatch(/not trust: for another hub, add that CA's certificate to trust\.anchors/);
  });

  it('https:// to a plain-HTTP port: the URL should say http://', async () => {
    const peer = createPeer({ name: 'ngsp', baseUrl: `https://127.0.0.1:${plainPort}` }, trusting(ca.certPem));
    const e = await rejection(peer.send({ path: '/v1/x' }));
    expect(e.type).toBe('transport.tls-failed');
    expect(e.detail[0]?.code).toMatch(/^ERR_SSL_/);
    expect(e.detail[0]?.reason).toMatch(/did not answer in TLS/);
  });

  it.each([
    ['CERT_HAS_EXPIRED', /has expired: the peer must renew it/],
    ['CERT_REVOKED', /is revoked/],
    ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', /probably refused this hub's client certificate/],
    ['ERR_TLS_CERT_WRONG_PARTICIPANT', /names VN\/GOV\/X, not VN\/GOV\/Y: the url under federation\.hubs points at another hub/],
  ])('explains %s', (code, reason) => {
    const e = classify(Object.assign(new Error(`the server's certificate names VN/GOV/X, not VN/GOV/Y`), { code }), { peer: 'ngsp', url: 'https://hub.ngsp.gov.vn:8443/v1/x/a' });
    expect(e.type).toBe('transport.tls-failed');
    expect(e.detail[0]).toEqual({ code, reason: expect.stringMatching(reason) });
    expect(e.message).not.toContain('/v1/x/a');
  });

  it('a TLS handshake that times out stays transport.timeout', () => {
    expect(classify(Object.assign(new Error('x'), { code: 'ERR_TLS_HANDSHAKE_TIMEOUT' }), { peer: 'ngsp' }).type).toBe('transport.timeout');
  });

  it('is dead-lettered at once under the default retry policy, not retried', () => {
    const verdict = decide(DEFAULT_RETRY_POLICY, { errorType: 'transport.tls-failed', httpStatus: undefined }, 1, 0, 0);
    expect(verdict).toEqual({ action: 'dead-letter', reason: 'error transport.tls-failed is not retryable under the retry policy' });
  });
});
