import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { loadRegistry } from '../../src/config/load.js';
import type { ConfigIssue } from '../../src/core/issues.js';
import { copyOfShipped, edit } from '../support/config-copy.js';

const errors = (issues: ConfigIssue[]) => issues.filter((i) => i.severity === 'error');
const env: NodeJS.ProcessEnv = { ...process.env, CSDLDC_URL: 'http://127.0.0.1:8091' };

describe('lienthong check: integrator review findings', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const copy = () => {
    const dir = copyOfShipped();
    dirs.push(dir);
    return dir;
  };

  it('reports "type": "int" in a canonical schema at its line with a did-you-mean, instead of crashing', () => {
    const dir = copy();
    const at = edit(dir, 'schemas/csdldc/TraCuuThongTinCongDan.response.json', '"Ten": { "type": "string" }', '"Ten": { "type": "int" }');
    const { registry, issues } = loadRegistry(dir, { env });
    expect(registry).toBeUndefined();
    const issue = errors(issues).find((i) => i.file === 'schemas/csdldc/TraCuuThongTinCongDan.response.json');
    expect(issue, JSON.stringify(issues, null, 1)).toBeDefined();
    expect(issue!.line).toBe(at);
    expect(issue!.field).toMatch(/HoVaTen\.properties\.Ten\.type$/);
    expect(issue!.message).toContain('"int" is not a JSON Schema type');
    expect(issue!.hint).toContain('did you mean "integer"?');
  });

  it('reports "required" written as a string, at its line, with the list to write', () => {
    const dir = copy();
    const at = edit(dir, 'schemas/canonical/CitizenRecord.json', '"required": ["personalId", "name", "birthDate"]', '"required": "personalId"');
    const { issues } = loadRegistry(dir, { env });
    const issue = errors(issues).find((i) => i.file === 'schemas/canonical/CitizenRecord.json');
    expect(issue, JSON.stringify(issues, null, 1)).toBeDefined();
    expect(issue!.line).toBe(at);
    expect(issue!.field).toBe('required');
    expect(issue!.hint).toBe('write "required": ["personalId"]');
  });
});

describe('check: condition values the field never has', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const copy = () => {
    const dir = copyOfShipped();
    dirs.push(dir);
    return dir;
  };

  it('a route condition outside the canonical field\'s enum is an error naming the allowed values', () => {
    const dir = copy();
    const line = edit(dir, 'config/hub.yaml', '- emc.TrackingMCDT\n', '- { to: emc.TrackingMCDT, when: { path: status, in: [PROCESSED, DA_XU_LY] } }\n');
    const { registry, issues } = loadRegistry(dir, { env });
    expect(registry).toBeUndefined();
    const issue = errors(issues).find((i) => i.file === 'config/hub.yaml');
    expect(issue, JSON.stringify(issues, null, 1)).toBeDefined();
    expect(issue!.line).toBe(line);
    expect(issue!.message).toContain('"DA_XU_LY", which is not one of its values (SUBMITTED, RECEIVED');
    expect(issue!.message).toContain('emc.TrackingMCDT would never receive a message');
    expect(issue!.hint).toContain('canonical message');
  });

  it('a route condition comparing a boolean with "yes" is an error; with true it is fine', () => {
    const dir = copy();
    edit(dir, 'config/hub.yaml', 'when: { path: fromNationalPortal, equals: true }', 'when: { path: fromNationalPortal, equals: "yes" }');
    const issue = errors(loadRegistry(dir, { env }).issues).find((i) => i.file === 'config/hub.yaml');
    expect(issue?.message).toContain('compares fromNationalPortal with "yes", which is not one of its values (true, false)');
  });

  it('a mapping rule\'s condition outside the source field\'s enum is an error at its line, with a did-you-mean', () => {
    const dir = copy();
    const line = edit(dir, 'mappings/onegate-h56/dossier-sync.in.yaml', 'when: { path: chuHoSo.loai, equals: "2" }', 'when: { path: chuHoSo.loai, equals: "22" }');
    const issue = errors(loadRegistry(dir, { env }).issues).find((i) => i.file.endsWith('dossier-sync.in.yaml'));
    expect(issue, 'no error').toBeDefined();
    expect(issue!.line).toBe(line);
    expect(issue!.message).toContain('"22", which is not one of its values (1, 2, 3, 4)');
  });
});

describe('check: secrets only from the environment', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const copy = () => {
    const dir = copyOfShipped();
    dirs.push(dir);
    return dir;
  };
  const errorsIn = (dir: string, file: string) => errors(loadRegistry(dir, { env }).issues).filter((i) => i.file === file);

  it('refuses a literal password, without repeating it', () => {
    const dir = copy();
    const line = edit(dir, 'connectors/dvcqg.yaml', 'password: ${DVCQG_PASSWORD:-demo}', 'password: hunter2');
    const found = errorsIn(dir, 'connectors/dvcqg.yaml');
    expect(found).toEqual([expect.objectContaining({ line, field: 'auth.password', message: expect.stringContaining('secrets come from the environment only') })]);
    expect(JSON.stringify(found)).not.toContain('hunter2');
    expect(found[0]!.hint).toContain('${DVCQG_PASSWORD}');
  });

  it('refuses a literal bearer header and a literal checksum secret; accepts other literal headers', () => {
    const dir = copy();
    edit(dir, 'connectors/emc.yaml', 'authorization: Bearer ${EMC_TOKEN:-emc-demo-token}', 'authorization: Bearer emc-demo-token\n    x-api-version: "2"');
    expect(errorsIn(dir, 'connectors/emc.yaml')).toEqual([expect.objectContaining({ field: 'auth.headers.authorization', hint: expect.stringContaining('"Bearer ${EMC_TOKEN}"') })]);
    edit(dir, 'connectors/dvcqg-payment.yaml', 'secret: "${DVCQG_PAYMENT_SECRET:-demo-secret}" }', 'secret: demo-secret }');
    expect(errorsIn(dir, 'connectors/dvcqg-payment.yaml')).toEqual([expect.objectContaining({ field: expect.stringMatching(/^operations\.\w+\.checksum\.request\.secret$/) })]);
  });

  it('refuses a literal OAuth2 client secret', () => {
    const dir = copy();
    edit(dir, 'connectors/csdldc.yaml', /auth:\n  scheme: none\n/, 'auth:\n  scheme: oauth2\n  tokenUrl: http://127.0.0.1:1/token\n  clientId: hub\n  clientSecret: s3cret\n');
    expect(errorsIn(dir, 'connectors/csdldc.yaml')).toEqual([expect.objectContaining({ field: 'auth.clientSecret' })]);
  });
});

describe('check: lines and false warnings', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const copy = () => {
    const dir = copyOfShipped();
    dirs.push(dir);
    return dir;
  };

  it('an idempotency key field the canonical type lacks: its line and a did-you-mean from that type', () => {
    const dir = copy();
    const line = edit(dir, 'connectors/onegate-h56.yaml', 'idempotencyKey: [dossierCode, status, at]', 'idempotencyKey: [dossierCode, statuss, at]');
    const issue = errors(loadRegistry(dir, { env }).issues).find((i) => i.message.includes('statuss'));
    expect(issue).toMatchObject({ file: 'connectors/onegate-h56.yaml', line, field: 'operations.dossier-status.idempotencyKey[1]' });
    expect(issue!.hint).toContain("did you mean 'status'?");
  });

  it('a strict-mode schema error (maximum on a string) is placed at its line', () => {
    const dir = copy();
    const line = edit(dir, 'schemas/csdldc/TraCuuThongTinCongDan.response.json', '"Ten": { "type": "string" }', '"Ten": { "type": "string", "maximum": 3 }');
    const issue = errors(loadRegistry(dir, { env }).issues).find((i) => i.file === 'schemas/csdldc/TraCuuThongTinCongDan.response.json');
    expect(issue?.message).toContain('maximum');
    expect(issue?.line).toBe(line);
  });

  it('a golden test file with an error does not also warn that its mapping has no golden tests', () => {
    const dir = copy();
    edit(dir, 'mappings/onegate-h56/dossier-sync.in.test.yaml', /\n {4}equals:/, '\n    equal:');
    const { issues } = loadRegistry(dir, { env });
    expect(errors(issues).some((i) => i.file.endsWith('dossier-sync.in.test.yaml'))).toBe(true);
    expect(issues.filter((i) => i.message.includes('has no golden tests'))).toEqual([]);
  });
});
