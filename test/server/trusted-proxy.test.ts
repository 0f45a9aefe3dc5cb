import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { loadRegistry } from '../../src/config/load.js';
import { startHub, type RunningHub } from '../../src/server/hub.js';
import { createLogger } from '../../src/server/logger.js';
import { startPopulationSim } from '../../src/sim/population/server.js';
import { LogCapture, REPO, hubEnv } from '../support/hub.js';
import { waitFor } from '../support/wait.js';

/**
 * Plain HTTP behind a TLS-terminating proxy that verifies client certificates and names the caller in a
 * header: only the proxy's addresses may set it, the caller must be the endpoint's own system, and with
 * requireClientIdentity a caller without an identity is refused.
 */
function hubRoot(proxyAddress: string): string {
  const root = mkdtempSync(join(tmpdir(), 'lienthong-proxy-'));
  for (const part of ['connectors', 'schemas', 'mappings']) symlinkSync(join(REPO, part), join(root, part));
  mkdirSync(join(root, 'config'));
  copyFileSync(join(REPO, 'config', 'hub.yaml'), join(root, 'config', 'hub.yaml'));
  const yaml = readFileSync(join(root, 'config', 'hub.yaml'), 'utf8');
  writeFileSync(join(root, 'config', 'hub.yaml'), yaml.replace(/\nserver:\n/, `\nserver:\n  trustedProxy:\n    addresses: [${proxyAddress}]\n    participantHeader: x-client-participant\n  requireClientIdentity: true\n`));
  return root;
}

describe('behind a trusted TLS-terminating proxy', () => {
  let trusted: RunningHub;
  let elsewhere: RunningHub;
  let closeSim: () => Promise<void>;
  const logs = new LogCapture();

  beforeAll(async () => {
    const sim = await startPopulationSim({ host: '127.0.0.1', port: 0 });
    closeSim = () => sim.close();
    const start = async (address: string) => {
      const env = { ...hubEnv({}), CSDLDC_URL: sim.url, LIENTHONG_DATA_DIR: mkdtempSync(join(tmpdir(), 'lienthong-proxy-data-')) };
      const { registry, issues } = loadRegistry(hubRoot(address), { env });
      if (!registry) throw new Error(issues.map((i) => `${i.file}:${i.line} ${i.message}`).join('\n'));
      return startHub({ registry, log: createLogger({ destination: logs }), host: '127.0.0.1', port: 0, env });
    };
    trusted = await start('127.0.0.1');
    elsewhere = await start('10.20.30.40');
  });
  afterAll(async () => {
    await trusted?.close();
    await elsewhere?.close();
    await closeSim?.();
  });

  const lookup = async (hub: RunningHub, headers: Record<string, string>) => {
    const res = await request(`${hub.url}/v1/in/onegate-h56/citizen-lookup`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ soDinhDanh: '038095999901' }) });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  };

  it("serves the endpoint's own system, as the proxy names it", async () => {
    const res = await lookup(trusted, { 'x-client-participant': 'VN/GOV/000.00.00.H56/MOTCUA' });
    expect(res.status).toBe(200);
    expect(res.body.ketQua).toBe('TIM_THAY');
  });

  it('refuses another system on this endpoint (403 trust.wrong-participant)', async () => {
    const res = await lookup(trusted, { 'x-client-participant': 'VN/GOV/000.00.00.H22/MOTCUA' });
    expect(res).toMatchObject({ status: 403, body: { type: 'trust.wrong-participant' } });
  });

  it('refuses a caller with no identity when identities are required (401 trust.client-unauthenticated)', async () => {
    const res = await lookup(trusted, {});
    expect(res).toMatchObject({ status: 401, body: { type: 'trust.client-unauthenticated' } });
  });

  it('refuses the header from an address that is not the proxy (403 trust.untrusted-proxy)', async () => {
    const res = await lookup(elsewhere, { 'x-client-participant': 'VN/GOV/000.00.00.H56/MOTCUA' });
    expect(res).toMatchObject({ status: 403, body: { type: 'trust.untrusted-proxy' } });
  });

  it('keeps every refusal in its message log', async () => {
    // Refusals are logged without holding up the answer: wait for the write.
    const reasons = await waitFor(async () => {
      const found = (await trusted.messageLog.search({ state: 'rejected', limit: 50 })).items.map((m) => m.reason?.split(':', 1)[0]);
      return found.length >= 2 && found;
    }, 5_000, 'both refusals logged');
    expect(reasons).toEqual(expect.arrayContaining(['trust.wrong-participant', 'trust.client-unauthenticated']));
  });

  it('does not take the proxy on this machine for a local admin: without an admin token, its API is refused', async () => {
    const res = await request(`${trusted.url}/admin/messages?state=rejected`);
    expect(res.statusCode).toBe(403);
    expect(((await res.body.json()) as { type: string }).type).toBe('trust.admin-remote');
    // A hub whose proxy is elsewhere still serves its API to this machine.
    expect((await request(`${elsewhere.url}/admin/messages`)).statusCode).toBe(200);
  });
});
