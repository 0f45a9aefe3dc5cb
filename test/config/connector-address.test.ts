import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRegistry } from '../../src/config/load.js';
import type { ConfigIssue } from '../../src/core/issues.js';
import { REPO } from '../support/hub.js';

/**
 * `lienthong check` (and `start`, which refuses on the same errors) on where a connector sends and with what:
 * - a baseUrl that is not an absolute http(s) URL once the environment is filled in is refused at its line (it used
 *   to pass, and every delivery then failed with transport.failed);
 * - a connector pointed at a real system whose credential still falls back to the demo default in its file
 *   (`${DVCQG_PASSWORD:-demo}`) is refused, so the demo password never goes to the real portal. The shipped
 *   configuration, whose connectors point at the demo simulators on this machine, still passes with no setup.
 */
const ADDRESSES = ['CSDLDC_URL', 'DVCQG_URL', 'EMC_URL', 'ONEGATE_H56_URL', 'DVCQG_PAYMENT_URL'];
const CREDENTIALS = ['DVCQG_USERNAME', 'DVCQG_PASSWORD', 'EMC_TOKEN', 'ONEGATE_H56_TOKEN', 'DVCQG_PAYMENT_TOKEN', 'DVCQG_PAYMENT_SECRET'];
/** The test runner's environment without any connector address or credential: what a fresh checkout sees. */
const clean: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !ADDRESSES.includes(k) && !CREDENTIALS.includes(k)));
const check = (env: Record<string, string>) => loadRegistry(REPO, { env: { ...clean, ...env } });
const errors = (issues: ConfigIssue[]) => issues.filter((i) => i.severity === 'error');
const show = (issues: ConfigIssue[]) => JSON.stringify(issues, null, 1);
const lineOf = (file: string, text: string) => readFileSync(join(REPO, file), 'utf8').split('\n').findIndex((l) => l.includes(text)) + 1;

describe('check: connector addresses', () => {
  it('refuses a baseUrl that does not parse, at its line, naming the variable and not repeating its value', () => {
    const { registry, issues } = check({ DVCQG_URL: 'http://admin:S3CRETPASS@dvcqg host/x', DVCQG_PASSWORD: 'p' });
    expect(registry).toBeUndefined();
    const found = errors(issues);
    expect(found, show(issues)).toEqual([expect.objectContaining({
      file: 'connectors/dvcqg.yaml', line: lineOf('connectors/dvcqg.yaml', 'baseUrl:'), field: 'baseUrl',
      message: 'baseUrl (from DVCQG_URL) is not a valid absolute http(s) URL',
    })]);
    expect(show(issues)).not.toContain('S3CRETPASS');
  });

  it('refuses a baseUrl with a scheme and no host', () => {
    const found = errors(check({ EMC_URL: 'http://', EMC_TOKEN: 't' }).issues);
    expect(found.map((i) => `${i.file}:${i.line} ${i.message}`)).toEqual([`connectors/emc.yaml:${lineOf('connectors/emc.yaml', 'baseUrl:')} baseUrl (from EMC_URL) is not a valid absolute http(s) URL`]);
  });
});

describe('check: demo credentials sent to a real system', () => {
  it('passes the shipped configuration with nothing set: every connector points at its simulator on this machine', () => {
    const { registry, issues } = check({});
    expect(errors(issues), show(issues)).toEqual([]);
    expect(registry).toBeDefined();
  });

  it('refuses DVCQG_URL set to the real portal while DVCQG_PASSWORD is not set, at the password\'s line', () => {
    const { registry, issues } = check({ DVCQG_URL: 'https://dichvucong.gov.vn/api' });
    expect(registry).toBeUndefined();
    const found = errors(issues);
    expect(found, show(issues)).toEqual([expect.objectContaining({
      file: 'connectors/dvcqg.yaml', field: 'auth.password', line: lineOf('connectors/dvcqg.yaml', 'password: ${DVCQG_PASSWORD'),
      message: expect.stringContaining('DVCQG_PASSWORD is not set, so the default written in this file (a demo credential) would be sent to the real system'),
      hint: expect.stringContaining('set DVCQG_PASSWORD'),
    })]);
    // The username's default is not a secret; only the password is named.
    expect(found[0]!.message).not.toContain('DVCQG_USERNAME');
  });

  it('refuses an empty variable as it refuses an unset one', () => {
    const found = errors(check({ DVCQG_URL: 'https://dichvucong.gov.vn', DVCQG_PASSWORD: '' }).issues);
    expect(found.map((i) => i.field)).toEqual(['auth.password']);
  });

  it('accepts the real portal once the password is set', () => {
    const { registry, issues } = check({ DVCQG_URL: 'https://dichvucong.gov.vn', DVCQG_PASSWORD: 'from-the-portal' });
    expect(errors(issues), show(issues)).toEqual([]);
    expect(registry).toBeDefined();
  });

  it('refuses header tokens and checksum secrets that fall back to their defaults', () => {
    const found = errors(check({ EMC_URL: 'https://emc.gov.vn', DVCQG_PAYMENT_URL: 'http://10.20.30.40:8443' }).issues);
    expect(found.map((i) => `${i.file} ${i.field}`).sort()).toEqual([
      'connectors/dvcqg-payment.yaml auth.headers.authorization',
      'connectors/dvcqg-payment.yaml operations.CONFIRM.checksum.request.secret',
      'connectors/dvcqg-payment.yaml operations.INIT.checksum.request.secret',
      'connectors/emc.yaml auth.headers.authorization',
    ]);
    expect(found.find((i) => i.file === 'connectors/emc.yaml')!.message).toContain('EMC_TOKEN is not set');
  });

  it.each([
    ['a loopback address', 'http://127.0.0.2:18092'],
    ['localhost', 'http://localhost:18092'],
    ['IPv6 loopback', 'http://[::1]:18092'],
    ['a name reserved for tests', 'http://dvcqg.test'],
  ])('lets the demo default through for %s (a simulator or a test double)', (_, url) => {
    const { issues } = check({ DVCQG_URL: url });
    expect(errors(issues), show(issues)).toEqual([]);
  });
});
