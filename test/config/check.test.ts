import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { loadRegistry } from '../../src/config/load.js';
import type { ConfigIssue } from '../../src/core/issues.js';
import { copyOfShipped, edit } from '../support/config-copy.js';
import { REPO } from '../support/hub.js';

const errors = (issues: ConfigIssue[]) => issues.filter((i) => i.severity === 'error');
const env: NodeJS.ProcessEnv = { ...process.env, CSDLDC_URL: 'http://127.0.0.1:8091' };

describe('lienthong check', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const broken = () => {
    const dir = copyOfShipped();
    dirs.push(dir);
    return dir;
  };

  it('accepts the shipped configuration without errors or warnings', () => {
    const { registry, issues } = loadRegistry(REPO, { env });
    expect(issues.map((i) => `${i.severity} ${i.file} ${i.message}`)).toEqual([]);
    expect(registry?.routes.size).toBeGreaterThanOrEqual(2);
    expect(registry?.mappings.size).toBeGreaterThanOrEqual(6);
  });

  it('names file, line and field of a mistyped source path, with a suggestion', () => {
    const dir = broken();
    const line = edit(dir, 'mappings/onegate-h56/citizen-lookup.in.yaml', 'fullName: { from: hoVaTen,', 'fullName: { from: hoVaTenn,');
    const { registry, issues } = loadRegistry(dir, { env });
    expect(registry).toBeUndefined();
    const issue = errors(issues).find((i) => i.file.endsWith('citizen-lookup.in.yaml'));
    expect(issue, JSON.stringify(issues, null, 1)).toBeDefined();
    expect(issue!.line).toBe(line);
    expect(issue!.field).toContain('fullName');
    expect(`${issue!.message} ${issue!.hint}`).toContain('hoVaTen');
  });

  it('reports a reply mapping whose $request schema is not the request of the operation it answers', () => {
    const dir = broken();
    edit(dir, 'mappings/dvcqg-payment/CONFIRM.out.yaml', 'request: dvcqg-payment/CONFIRM.request', 'request: dvcqg-payment/INIT.request');
    const issue = errors(loadRegistry(dir, { env }).issues).find((i) => i.file.endsWith('dvcqg-payment.yaml'));
    expect(issue?.message).toBe('mapping dvcqg-payment/CONFIRM.out reads $request as dvcqg-payment/INIT.request, but the request of CONFIRM is dvcqg-payment/CONFIRM.request');
    expect(issue?.field).toBe('operations.CONFIRM.response.mapping');
  });

  it('reports a request mapping that declares a request to read', () => {
    const dir = broken();
    edit(dir, 'mappings/dvcqg-payment/CONFIRM.in.yaml', 'target: canonical/PaymentConfirmed', 'target: canonical/PaymentConfirmed\nrequest: dvcqg-payment/CONFIRM.request');
    const issue = errors(loadRegistry(dir, { env }).issues).find((i) => i.file.endsWith('dvcqg-payment.yaml'));
    expect(issue?.message).toContain('only a response or reply mapping has a request to read');
  });

  it('reports a mapping that names an environment variable which is not set, at its line', () => {
    const dir = broken();
    const line = edit(dir, 'mappings/dvcqg-payment/INIT.out.yaml', '"${DVCQG_PAYMENT_PARTNER:-000.00.00.H56}"', '"${LT_TEST_UNSET_PARTNER}"');
    const { registry, issues } = loadRegistry(dir, { env });
    expect(registry).toBeUndefined();
    expect(errors(issues)).toContainEqual(expect.objectContaining({ file: 'mappings/dvcqg-payment/INIT.out.yaml', line, message: 'environment variable LT_TEST_UNSET_PARTNER is not set' }));
  });

  it("reports an option a demo simulator does not have, naming the ones it has", () => {
    const dir = broken();
    edit(dir, 'config/hub.yaml', 'options: { token: "${EMC_TOKEN:-emc-demo-token}" }', 'options: { tokn: "${EMC_TOKEN:-emc-demo-token}" }');
    const line = readFileSync(join(dir, 'config/hub.yaml'), 'utf8').split('\n').findIndex((l) => l.includes('tokn')) + 1;
    const found = errors(loadRegistry(dir, { env }).issues).filter((i) => i.file === 'config/hub.yaml');
    expect(found).toEqual([expect.objectContaining({ line, field: 'demo.simulators.2.options.tokn', message: 'demo.simulators.2.options: unknown field ("tokn"): one of token, slowMs, latencyMs, jitterMs' })]);
  });

  it('reports a target field that the target schema does not have', () => {
    const dir = broken();
    const line = edit(dir, 'mappings/csdldc/TraCuuThongTinCongDan.in.yaml', '  ethnicity: {', '  ethnicityy: {');
    const issue = errors(loadRegistry(dir, { env }).issues).find((i) => i.field?.includes('ethnicityy'));
    expect(issue?.file).toBe('mappings/csdldc/TraCuuThongTinCongDan.in.yaml');
    expect(issue?.line).toBe(line);
  });

  it('reports a required target field that is never written', () => {
    const dir = broken();
    edit(dir, 'mappings/onegate-h56/citizen-lookup.in.yaml', /\n  operation: \{ const: LOOKUP \}/, '');
    const issue = errors(loadRegistry(dir, { env }).issues).find((i) => i.file.endsWith('citizen-lookup.in.yaml'));
    expect(`${issue?.field} ${issue?.message}`).toContain('operation');
  });

  it('reports a type mismatch', () => {
    const dir = broken();
    edit(dir, 'mappings/onegate-h56/citizen-lookup.out.yaml', 'congDan.namSinh: { from: birthDate.year }', 'congDan.namSinh: { from: name.full }');
    const issue = errors(loadRegistry(dir, { env }).issues).find((i) => i.field?.includes('namSinh'));
    expect(issue?.message).toMatch(/type|kiểu/i);
  });

  it('reports a code table that does not cover the source enum', () => {
    const dir = broken();
    edit(dir, 'mappings/codes/csdldc-gender.yaml', '  "0": U\n', '');
    const issue = errors(loadRegistry(dir, { env }).issues).find((i) => i.field?.includes('gender'));
    expect(issue, 'uncovered enum value 0 of GioiTinh').toBeDefined();
    expect(issue!.message).toContain('0');
  });

  it('rejects unknown functions and prototype paths at load', () => {
    const dir = broken();
    edit(dir, 'mappings/onegate-h56/citizen-lookup.in.yaml', 'fn: [trim, nfc]', 'fn: [trim, eval]');
    edit(dir, 'mappings/onegate-h56/citizen-lookup.in.yaml', 'requestRef: { from: maYeuCau }', 'requestRef: { from: __proto__.polluted }');
    const found = errors(loadRegistry(dir, { env }).issues).filter((i) => i.file.endsWith('citizen-lookup.in.yaml'));
    expect(found.some((i) => i.message.includes('eval'))).toBe(true);
    expect(found.some((i) => i.message.includes('__proto__'))).toBe(true);
  });

  it('reports a route to an operation that does not exist, with the known ones', () => {
    const dir = broken();
    const line = edit(dir, 'config/hub.yaml', 'to: csdldc.TraCuuThongTinCongDan\n  - id: citizen-lookup-legacy-soap', 'to: csdldc.TraCuuCongDan\n  - id: citizen-lookup-legacy-soap');
    const issue = errors(loadRegistry(dir, { env }).issues).find((i) => i.file === 'config/hub.yaml');
    expect(issue?.line).toBe(line);
    expect(issue?.field).toBe('routes[0].to');
    expect(issue?.hint).toContain('csdldc.TraCuuThongTinCongDan');
  });

  it('warns when a delivery could outlive its lease (shorter than twice an attempt\'s timeouts), at the lease\'s line', () => {
    const line = readFileSync(join(REPO, 'config/hub.yaml'), 'utf8').split('\n').findIndex((l) => l.includes('lease: ${LIENTHONG_DELIVERY_LEASE')) + 1;
    const short = loadRegistry(REPO, { env: { ...env, LIENTHONG_DELIVERY_LEASE: '5s' } });
    expect(short.registry).toBeDefined(); // a warning: the hub still starts
    const warning = short.issues.find((i) => i.field === 'delivery.lease');
    expect(warning).toMatchObject({ severity: 'warning', file: 'config/hub.yaml', line });
    expect(warning?.message).toMatch(/shorter than twice the longest attempt to \S+ \(connect \+ request timeouts, \d+ ms\)/);
    expect(loadRegistry(REPO, { env: { ...env, LIENTHONG_DELIVERY_LEASE: '2m' } }).issues.filter((i) => i.field === 'delivery.lease')).toEqual([]);
  });

  it('loads a root inside a folder named codes, and a schema saved with a BOM', () => {
    const parent = mkdtempSync(join(tmpdir(), 'lienthong-codes-'));
    dirs.push(parent);
    const dir = join(parent, 'codes', 'hub');
    for (const part of ['config', 'connectors', 'schemas', 'mappings']) cpSync(join(REPO, part), join(dir, part), { recursive: true });
    const schema = join(dir, 'schemas', 'dvcqg-payment', 'CONFIRM.request.json');
    writeFileSync(schema, `\uFEFF${readFileSync(schema, 'utf8')}`);
    expect(errors(loadRegistry(dir, { env }).issues)).toEqual([]);
  });

  it('types environment values by the config schema: a numeric password stays text, a port and a decimal become numbers', () => {
    const { registry, issues } = loadRegistry(REPO, { env: { ...env, DVCQG_PASSWORD: '123456', LIENTHONG_PORT: '9090', DVCQG_RETRY_MAX_ATTEMPTS: '5' } });
    expect(errors(issues)).toEqual([]);
    const dvcqg = registry!.connectors.get('dvcqg')!;
    expect((dvcqg.auth as { password?: unknown }).password).toBe('123456');
    expect(registry!.hub.server.port).toBe(9090);
    expect(registry!.hub.delivery.concurrency).toBe(64);
    const dir = broken();
    edit(dir, 'connectors/dvcqg.yaml', 'jitter: 0.2', 'jitter: ${DVCQG_JITTER:-0.25}');
    expect(errors(loadRegistry(dir, { env }).issues)).toEqual([]);
    const typo = broken();
    const line = edit(typo, 'connectors/dvcqg.yaml', 'password: ${DVCQG_PASSWORD:-demo}', 'password: ${dvcqg_password}');
    expect(errors(loadRegistry(typo, { env }).issues)).toContainEqual(expect.objectContaining({ file: 'connectors/dvcqg.yaml', line, message: '"${dvcqg_password}" is not an environment expression' }));
  });

  it('reports a duration it cannot read as a config error at its line, not a crash', () => {
    const line = readFileSync(join(REPO, 'config/hub.yaml'), 'utf8').split('\n').findIndex((l) => l.includes('lease: ${LIENTHONG_DELIVERY_LEASE')) + 1;
    const { registry, issues } = loadRegistry(REPO, { env: { ...env, LIENTHONG_DELIVERY_LEASE: '2 minutes' } });
    expect(registry).toBeUndefined();
    expect(errors(issues)).toEqual([expect.objectContaining({ file: 'config/hub.yaml', field: 'delivery.lease', line, message: expect.stringContaining('bad duration "2 minutes"') })]);
  });

  it("reports a SOAP namespace prefix that cannot be written (the envelope's own, or reserved)", () => {
    const dir = broken();
    const line = edit(dir, 'connectors/csdldc.yaml', 'prefix: qldc', 'prefix: soap');
    expect(errors(loadRegistry(dir, { env }).issues).find((i) => i.file === 'connectors/csdldc.yaml')).toMatchObject({ line, field: 'soap.prefix', message: expect.stringContaining("envelope's own prefix") });
  });

  it("reports a notFound path that is not a field of the answer (every lookup would be 'not found')", () => {
    const dir = broken();
    const line = edit(dir, 'connectors/csdldc.yaml', 'notFound: { missing: CongdanCollection.CongDan }', 'notFound: { missing: CongdanColection.CongDan }');
    const issue = errors(loadRegistry(dir, { env }).issues).find((i) => i.file === 'connectors/csdldc.yaml');
    expect(issue).toMatchObject({ line, field: 'operations.TraCuuThongTinCongDan.notFound.missing' });
    expect(issue!.message).toContain('"CongdanColection.CongDan" is not a field of the answer');
  });

  it('reports a resend condition on the message when the answer names no message field', () => {
    const dir = broken();
    edit(dir, 'connectors/dvcqg.yaml', /      messageField: message\n      success: \["0", "00"\]\n      retryable: \["500"\]\n      # "Hồ sơ/, '      success: ["0", "00"]\n      retryable: ["500"]\n      # "Hồ sơ');
    const issue = errors(loadRegistry(dir, { env }).issues).find((i) => i.file === 'connectors/dvcqg.yaml');
    expect(issue).toMatchObject({ field: 'operations.DongBoHoSoMC.result.resendWith.0.messageContains', message: expect.stringContaining('resendWith[0].messageContains needs result.messageField') });
  });

  it('refuses a WS-Security Timestamp lifetime over a day (a captured message could be replayed that long)', () => {
    const dir = broken();
    edit(dir, 'connectors/motcua-legacy.yaml', /\nsoap:/, '\nwsSecurity:\n  peerCertificate: keys/legacy.crt\n  maxTimestampLifetime: 2d\nsoap:');
    const issue = errors(loadRegistry(dir, { env }).issues).find((i) => i.field === 'wsSecurity.maxTimestampLifetime');
    expect(issue).toMatchObject({ file: 'connectors/motcua-legacy.yaml', message: 'wsSecurity.maxTimestampLifetime must be between 1 second and 1 day' });
  });

  it('reports a connector field the schema does not allow, at its line', () => {
    const dir = broken();
    const line = edit(dir, 'connectors/csdldc.yaml', 'timeouts:\n', 'timeout:\n');
    const issue = errors(loadRegistry(dir, { env }).issues).find((i) => i.file === 'connectors/csdldc.yaml');
    expect(issue?.line).toBe(line);
    expect(issue?.field).toBe('timeout');
  });

  it('reports an unset secret without a default', () => {
    const dir = broken();
    edit(dir, 'connectors/csdldc.yaml', /auth:\n  scheme: none/, 'auth:\n  scheme: header\n  headers:\n    x-api-key: ${CSDLDC_API_KEY}');
    const { CSDLDC_API_KEY: _unset, ...rest } = env;
    const issue = errors(loadRegistry(dir, { env: rest }).issues).find((i) => i.message.includes('CSDLDC_API_KEY'));
    expect(issue?.file).toBe('connectors/csdldc.yaml');
    expect(issue?.field).toBe('auth.headers.x-api-key');
  });

  it('reports a mapping wired the wrong way round', () => {
    const dir = broken();
    edit(dir, 'connectors/onegate-h56.yaml', 'mapping: onegate-h56/citizen-lookup.in }', 'mapping: onegate-h56/citizen-lookup.out }');
    const issue = errors(loadRegistry(dir, { env }).issues).find((i) => i.file === 'connectors/onegate-h56.yaml');
    expect(issue?.message).toContain('needs onegate-h56/citizen-lookup.request → canonical/CitizenLookupRequest');
  });

  it('rejects a nonsensical retry policy, naming the field', () => {
    const dir = broken();
    edit(dir, 'connectors/dvcqg.yaml', 'initialDelay: ${DVCQG_RETRY_INITIAL_DELAY:-2s}', 'initialDelay: soon');
    edit(dir, 'connectors/emc.yaml', 'maxAttempts: ${EMC_RETRY_MAX_ATTEMPTS:-10}', 'maxAttempts: 0');
    const found = errors(loadRegistry(dir, { env }).issues);
    expect(found.some((i) => i.file === 'connectors/dvcqg.yaml' && /initialDelay|soon|duration/i.test(`${i.field} ${i.message}`)), JSON.stringify(found)).toBe(true);
    expect(found.some((i) => i.file === 'connectors/emc.yaml' && /maxAttempts/.test(`${i.field} ${i.message}`)), JSON.stringify(found)).toBe(true);
  });

  it('rejects an unknown destination in an async route, listing the known ones', () => {
    const dir = broken();
    const line = edit(dir, 'config/hub.yaml', '      - emc.TrackingMCDT\n', '      - emc.TrackingMCDTT\n');
    const issue = errors(loadRegistry(dir, { env }).issues).find((i) => i.message.includes('emc.TrackingMCDTT'));
    expect(issue?.file).toBe('config/hub.yaml');
    expect(issue?.line).toBe(line);
    expect(issue?.hint).toContain('emc.TrackingMCDT');
  });

  it('rejects an ordering key that is not a field of the canonical type', () => {
    const dir = broken();
    const line = edit(dir, 'config/hub.yaml', '    orderingKey: dossierCode\n', '    orderingKey: maHoSo\n');
    const issue = errors(loadRegistry(dir, { env }).issues).find((i) => i.message.includes('ordering key'));
    expect(issue?.line).toBe(line);
    expect(issue?.message).toContain('DossierStatusChanged');
  });

  it('rejects an idempotency key naming a field the canonical type lacks', () => {
    const dir = broken();
    edit(dir, 'connectors/onegate-h56.yaml', 'idempotencyKey: [dossierCode, status, at]', 'idempotencyKey: [dossierCode, statusCode]');
    const issue = errors(loadRegistry(dir, { env }).issues).find((i) => i.message.includes('statusCode'));
    expect(issue?.file).toBe('connectors/onegate-h56.yaml');
  });

  it('compiles a route condition, and rejects a malformed one at its line', () => {
    const dir = broken();
    edit(dir, 'config/hub.yaml', '      - emc.TrackingMCDT\n', '      - { to: emc.TrackingMCDT, when: { path: status, notEquals: WITHDRAWN } }\n');
    const { registry, issues } = loadRegistry(dir, { env });
    expect(issues.filter((i) => i.severity === 'error')).toEqual([]);
    const route = registry!.routes.get('onegate-h56.dossier-status')!;
    const emc = route.destinations.find((d) => d.to === 'emc.TrackingMCDT')!;
    expect(emc.test!({ status: 'PROCESSING' })).toBe(true);
    expect(emc.test!({ status: 'WITHDRAWN' })).toBe(false);
    const progress = route.destinations.find((d) => d.to === 'dvcqg.CapNhatTienDoHoSoMC')!;
    expect(progress.test!({ fromNationalPortal: true })).toBe(false);
    expect(progress.test!({ status: 'PROCESSING' })).toBe(true);

    const bad = broken();
    const line = edit(bad, 'config/hub.yaml', '      - emc.TrackingMCDT\n', '      - { to: emc.TrackingMCDT, when: { path: status, resembles: WITHDRAWN } }\n');
    const issue = errors(loadRegistry(bad, { env }).issues).find((i) => i.file === 'config/hub.yaml' && i.field?.includes('when'));
    expect(issue, JSON.stringify(loadRegistry(bad, { env }).issues)).toBeDefined();
    expect(issue!.line).toBe(line);

    // A sync route cannot have one: its only destination would be skipped, unchecked, for some callers.
    const sync = broken();
    const syncLine = edit(sync, 'config/hub.yaml', '    to: csdldc.TraCuuThongTinCongDan\n  - id: citizen-lookup-legacy-soap', '    to: [{ to: csdldc.TraCuuThongTinCongDan, when: { path: purpose, equals: x } }]\n  - id: citizen-lookup-legacy-soap');
    expect(errors(loadRegistry(sync, { env }).issues).find((i) => i.file === 'config/hub.yaml')).toMatchObject({ line: syncLine, message: expect.stringContaining("a sync route's destination cannot have a when: condition") });

    // A path the canonical type does not have would never match (or, with notEquals, always): an error, with a suggestion.
    const typo = broken();
    const typoLine = edit(typo, 'config/hub.yaml', '      - emc.TrackingMCDT\n', '      - { to: emc.TrackingMCDT, when: { path: statuss, in: [PROCESSED] } }\n');
    const unknown = errors(loadRegistry(typo, { env }).issues).find((i) => i.file === 'config/hub.yaml');
    expect(unknown).toMatchObject({ line: typoLine, field: 'routes.2.to.1.when' });
    expect(`${unknown!.message} ${unknown!.hint}`).toMatch(/statuss[\s\S]*status/);
  });

  it('exits non-zero from the command line and prints file:line', () => {
    const dir = broken();
    edit(dir, 'mappings/onegate-h56/citizen-lookup.in.yaml', 'fullName: { from: hoVaTen,', 'fullName: { from: hoVaTenn,');
    let output = '';
    let status = 0;
    try {
      execFileSync(process.execPath, [join(REPO, 'bin', 'lienthong.js'), '--root', dir, 'check'], { encoding: 'utf8', env });
    } catch (error) {
      const e = error as { status: number; stdout: string };
      status = e.status;
      output = e.stdout;
    }
    expect(status).toBe(1);
    expect(output).toMatch(/mappings\/onegate-h56\/citizen-lookup\.in\.yaml:\d+/);
  });
});
