import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runAllMappingTests } from '../../src/cli/test.js';
import { loadRegistry } from '../../src/config/load.js';
import type { Registry } from '../../src/config/registry.js';
import type { ConfigIssue } from '../../src/core/issues.js';
import { copyOfShipped, edit } from '../support/config-copy.js';
import { REPO } from '../support/hub.js';

/**
 * What `lienthong check` says about the mistakes an integrator made adding a connector by configuration
 * alone: each used to pass, or to be reported without a line, a fix, or with the wrong advice.
 */

const errors = (issues: ConfigIssue[]) => issues.filter((i) => i.severity === 'error');
const warnings = (issues: ConfigIssue[]) => issues.filter((i) => i.severity === 'warning');
const env: NodeJS.ProcessEnv = { ...process.env, CSDLDC_URL: 'http://127.0.0.1:8091' };
const show = (issues: ConfigIssue[]) => JSON.stringify(issues, null, 1);

describe('check: adding a connector by configuration', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const broken = () => {
    const dir = copyOfShipped();
    dirs.push(dir);
    return dir;
  };

  describe('canonical types accept the envelope the hub stamps', () => {
    it('reports additionalProperties: false (it refuses messageId, …) at its line, with the shipped form as the fix', () => {
      const dir = broken();
      edit(dir, 'schemas/canonical/DossierStatusChanged.json', '"unevaluatedProperties": false', '"additionalProperties": false');
      const line = readFileSync(join(dir, 'schemas/canonical/DossierStatusChanged.json'), 'utf8').split('\n').indexOf('  "additionalProperties": false') + 1;
      const { registry, issues } = loadRegistry(dir, { env });
      expect(registry).toBeUndefined();
      const issue = errors(issues).find((i) => i.file === 'schemas/canonical/DossierStatusChanged.json');
      expect(issue, show(issues)).toMatchObject({ line, message: expect.stringContaining('refuses the envelope fields the hub stamps') });
      expect(issue!.message).toContain('messageId');
      expect(issue!.hint).toMatch(/allOf[\s\S]*Envelope[\s\S]*unevaluatedProperties/);
    });

    it('reports a canonical type without the Envelope that refuses unevaluated properties', () => {
      const dir = broken();
      edit(dir, 'schemas/canonical/DossierStatusChanged.json', '"allOf": [{ "$ref": "common.json#/$defs/Envelope" }],', '');
      const issue = errors(loadRegistry(dir, { env }).issues).find((i) => i.file === 'schemas/canonical/DossierStatusChanged.json');
      expect(issue?.message).toContain('because of unevaluatedProperties: false');
    });

    it('golden tests with schema: true validate the output of a mapping into a canonical type with the envelope stamped', () => {
      const { registry } = loadRegistry(REPO, { env });
      const seen: Array<{ schema: string; value: Record<string, unknown> }> = [];
      const validators = new Map([...registry!.validators].map(([name, validate]) => {
        const spy = Object.assign((value: unknown) => {
          seen.push({ schema: name, value: value as Record<string, unknown> });
          const ok = validate(value);
          spy.errors = validate.errors;
          return ok;
        }, { errors: validate.errors });
        return [name, spy as unknown as typeof validate];
      }));
      const results = runAllMappingTests({ ...registry!, validators } as Registry);
      expect(results.filter((r) => !r.ok)).toEqual([]);
      const canonical = seen.filter((s) => s.schema.startsWith('canonical/'));
      expect(canonical.length).toBeGreaterThan(0);
      for (const { schema, value } of canonical) expect(value).toMatchObject({ messageId: expect.any(String), messageType: schema.slice('canonical/'.length), source: expect.any(String) });
      expect(seen.filter((s) => !s.schema.startsWith('canonical/')).every((s) => !('messageId' in s.value) || typeof s.value.messageId === 'string')).toBe(true);
    });
  });

  describe('auth: the branch its scheme names', () => {
    it('reports a misspelt key with a suggestion, not "must match exactly one schema in oneOf"', () => {
      const dir = broken();
      const line = edit(dir, 'connectors/csdldc.yaml', /auth:\n  scheme: none\n/, 'auth:\n  scheme: oauth2\n  tokenUrl: http://127.0.0.1:1/token\n  client_id: hub\n  clientSecret: s\n') + 3;
      const found = errors(loadRegistry(dir, { env }).issues).filter((i) => i.file === 'connectors/csdldc.yaml');
      expect(found.map((i) => i.message).join('\n')).not.toContain('oneOf');
      expect(found).toContainEqual(expect.objectContaining({ line, field: 'auth.client_id', message: 'auth: unknown field ("client_id")', hint: "did you mean 'clientId'?" }));
      expect(found).toContainEqual(expect.objectContaining({ field: 'auth.clientId', message: expect.stringContaining("required property 'clientId'") }));
    });

    it('lists the schemes for an unknown one, and says a tokenUrl must be absolute', () => {
      const dir = broken();
      const line = edit(dir, 'connectors/csdldc.yaml', /auth:\n  scheme: none\n/, 'auth:\n  scheme: bearer\n') + 1;
      const found = errors(loadRegistry(dir, { env }).issues).filter((i) => i.file === 'connectors/csdldc.yaml');
      expect(found).toEqual([expect.objectContaining({ line, field: 'auth.scheme', message: 'auth.scheme: unknown scheme "bearer", must be one of: none, header, oauth2, session' })]);

      const relative = broken();
      edit(relative, 'connectors/csdldc.yaml', /auth:\n  scheme: none\n/, 'auth:\n  scheme: oauth2\n  tokenUrl: /token\n  clientId: hub\n  clientSecret: s\n');
      expect(errors(loadRegistry(relative, { env }).issues).filter((i) => i.file === 'connectors/csdldc.yaml')).toEqual([
        expect.objectContaining({ field: 'auth.tokenUrl', message: 'auth.tokenUrl: must be an absolute URL (http://… or https://…)' }),
      ]);

      const header = broken();
      edit(header, 'connectors/csdldc.yaml', /auth:\n  scheme: none\n/, 'auth:\n  scheme: header\n  header:\n    x-api-key: k\n');
      expect(errors(loadRegistry(header, { env }).issues).find((i) => i.field === 'auth.header')?.hint).toBe("did you mean 'headers'?");
    });
  });

  describe('golden tests', () => {
    it('reports an input the source schema refuses, at its line; inputSchema: false lets a case test the mapping on one', () => {
      const dir = broken();
      const file = 'mappings/onegate-h56/citizen-lookup.in.test.yaml';
      const line = edit(dir, file, 'input: { soDinhDanh: "038095999901", hoVaTen: " Trần Văn Thử ",', 'input: { soDinhDanh: "038095999901", hoVaTenn: x, hoVaTen: " Trần Văn Thử ",');
      const issue = errors(loadRegistry(dir, { env }).issues).find((i) => i.file === file);
      expect(issue).toMatchObject({ line, field: 'cases[0].input.hoVaTenn', message: expect.stringContaining('not valid against onegate-h56/citizen-lookup.request') });
      expect(issue!.hint).toContain('inputSchema: false');

      edit(dir, file, '  - name: đầy đủ thông tin, ngày sinh dd/MM/yyyy thành ISO\n', '  - name: đầy đủ thông tin, ngày sinh dd/MM/yyyy thành ISO\n    inputSchema: false\n');
      expect(errors(loadRegistry(dir, { env }).issues)).toEqual([]);
    });

    it('names a misnamed golden test file, instead of reading it as a broken mapping', () => {
      const dir = broken();
      renameSync(join(dir, 'mappings/onegate-h56/citizen-lookup.in.test.yaml'), join(dir, 'mappings/onegate-h56/citizen-lookup.in.tests.yaml'));
      const { issues } = loadRegistry(dir, { env });
      expect(issues.filter((i) => i.file.includes('citizen-lookup.in'))).toEqual([
        expect.objectContaining({ severity: 'error', file: 'mappings/onegate-h56/citizen-lookup.in.tests.yaml', hint: 'name golden test files *.test.yaml: rename it to citizen-lookup.in.test.yaml' }),
      ]);
    });

    it('a mapping that fails to load: the tests and the connector say to fix it, not to create it', () => {
      const dir = broken();
      edit(dir, 'mappings/onegate-h56/citizen-lookup.in.yaml', 'fn: [trim, nfc]', 'fn: [trimm, nfc]');
      const found = errors(loadRegistry(dir, { env }).issues);
      const fromTests = found.find((i) => i.file === 'mappings/onegate-h56/citizen-lookup.in.test.yaml');
      const fromConnector = found.find((i) => i.file === 'connectors/onegate-h56.yaml');
      expect(fromTests).toMatchObject({ line: 3, hint: 'fix the errors reported for mappings/onegate-h56/citizen-lookup.in.yaml first' });
      expect(fromConnector).toMatchObject({ message: 'mapping "onegate-h56/citizen-lookup.in" did not load', hint: 'fix the errors reported for mappings/onegate-h56/citizen-lookup.in.yaml first' });
      expect(found.map((i) => `${i.message} ${i.hint}`).join('\n')).not.toMatch(/create mappings|does not exist/);
    });
  });

  it('a code table that fails to load: its mappings say to fix it, not that it is unknown', () => {
    const dir = broken();
    edit(dir, 'mappings/codes/csdldc-gender.yaml', '  "0": U\n', '  "0": U\n  "0": X\n');
    const found = errors(loadRegistry(dir, { env }).issues).filter((i) => i.file !== 'mappings/codes/csdldc-gender.yaml');
    expect(found.length).toBeGreaterThan(0);
    for (const issue of found) expect(issue).toMatchObject({ message: "code table 'csdldc-gender' did not load", hint: 'fix the errors reported for mappings/codes/csdldc-gender.yaml first' });
  });

  describe('operations', () => {
    it('warns about an inbound operation no route starts at (every call 404)', () => {
      const dir = broken();
      edit(dir, 'config/hub.yaml', /  - id: citizen-lookup\n(    .*\n)+?(?=  - id: citizen-lookup-legacy-soap)/, '');
      const { registry, issues } = loadRegistry(dir, { env });
      expect(registry).toBeDefined();
      const line = readFileSync(join(dir, 'connectors/onegate-h56.yaml'), 'utf8').split('\n').indexOf('  citizen-lookup:') + 1;
      expect(warnings(issues)).toContainEqual(expect.objectContaining({ file: 'connectors/onegate-h56.yaml', line, field: 'operations.citizen-lookup', message: expect.stringContaining('not the start of any route') }));
    });

    it('refuses outbound-only fields on an inbound operation', () => {
      const dir = broken();
      const line = edit(dir, 'connectors/onegate-h56.yaml', '    direction: inbound\n    canonical: { request: CitizenLookupRequest', '    direction: inbound\n    path: /x\n    notFound: { missing: congDan }\n    canonical: { request: CitizenLookupRequest') + 1;
      const found = errors(loadRegistry(dir, { env }).issues).filter((i) => i.file === 'connectors/onegate-h56.yaml');
      expect(found).toEqual([
        expect.objectContaining({ line, field: 'operations.citizen-lookup.path', message: expect.stringContaining('path is an outbound-only field') }),
        expect.objectContaining({ line: line + 1, field: 'operations.citizen-lookup.notFound', message: expect.stringContaining('notFound is an outbound-only field') }),
      ]);
    });

    it('suggests the operation a route names with the wrong case', () => {
      const dir = broken();
      edit(dir, 'config/hub.yaml', 'to: csdldc.TraCuuThongTinCongDan\n  - id: citizen-lookup-legacy-soap', 'to: csdldc.TraCuuThongTinCongdan\n  - id: citizen-lookup-legacy-soap');
      const issue = errors(loadRegistry(dir, { env }).issues).find((i) => i.file === 'config/hub.yaml');
      expect(issue?.hint).toMatch(/^did you mean csdldc\.TraCuuThongTinCongDan\? one of: /);
    });

    it('reports a retry policy problem once, at its line', () => {
      const dir = broken();
      const line = edit(dir, 'connectors/emc.yaml', 'maxDelay: ${EMC_RETRY_MAX_DELAY:-15m}', 'maxDelay: 2sec');
      const found = errors(loadRegistry(dir, { env }).issues);
      expect(found).toEqual([expect.objectContaining({ file: 'connectors/emc.yaml', line, field: 'retry.maxDelay', message: expect.stringContaining('bad duration "2sec"') })]);
    });

    it('suggests the schema a connector names with a typo', () => {
      const dir = broken();
      edit(dir, 'connectors/onegate-h56.yaml', 'schema: onegate-h56/citizen-lookup.response,', 'schema: onegate-h56/citizen-lookup.respons,');
      const issue = errors(loadRegistry(dir, { env }).issues).find((i) => i.field === 'operations.citizen-lookup.response.schema');
      expect(issue?.hint).toContain("did you mean 'onegate-h56/citizen-lookup.response'?");
    });
  });

  describe('schema files', () => {
    it('gives a JSON syntax error its line and column, and what refers to the file is told to fix it first', () => {
      const dir = broken();
      edit(dir, 'schemas/onegate-h56/citizen-lookup.request.json', /("required")/, ',$1');
      const line = readFileSync(join(dir, 'schemas/onegate-h56/citizen-lookup.request.json'), 'utf8').split('\n').findIndex((l) => l.includes(',"required"')) + 1;
      const found = errors(loadRegistry(dir, { env }).issues);
      expect(found.find((i) => i.file === 'schemas/onegate-h56/citizen-lookup.request.json')).toMatchObject({ line, column: expect.any(Number), message: expect.not.stringContaining('position') });
      const follow = found.filter((i) => i.file !== 'schemas/onegate-h56/citizen-lookup.request.json');
      expect(follow.length).toBeGreaterThan(0);
      for (const issue of follow) expect(issue.hint).toBe('fix the errors reported for schemas/onegate-h56/citizen-lookup.request.json first');
    });

    it('names a $ref cycle instead of overflowing the stack', () => {
      const dir = broken();
      const file = 'schemas/onegate-h56/citizen-lookup.request.json';
      const schema = JSON.parse(readFileSync(join(dir, file), 'utf8'));
      schema.$defs = { A: { $ref: '#/$defs/B' }, B: { $ref: '#/$defs/A' } };
      schema.properties.hoVaTen = { $ref: '#/$defs/A' };
      writeFileSync(join(dir, file), JSON.stringify(schema, null, 2));
      const issue = errors(loadRegistry(dir, { env }).issues).find((i) => i.file === file);
      expect(issue?.message).toMatch(/^\$ref cycle: onegate-h56\/citizen-lookup\.request#\/\$defs\/(A|B) → .* → /);
      expect(issue?.line).toBeGreaterThan(1);
    });

    it('suggests the file a $ref misspells, the format a schema misspells, and gives their lines', () => {
      const dir = broken();
      const line = edit(dir, 'schemas/canonical/DossierStatusChanged.json', '"status": { "$ref": "common.json#/$defs/DossierStatus" }', '"status": { "$ref": "comon.json#/$defs/DossierStatus" }');
      const ref = errors(loadRegistry(dir, { env }).issues).find((i) => i.file === 'schemas/canonical/DossierStatusChanged.json');
      expect(ref).toMatchObject({ line, message: expect.stringContaining('"comon.json#/$defs/DossierStatus" resolves to nothing'), hint: expect.stringContaining("did you mean 'canonical/common'?") });

      const format = broken();
      const formatLine = edit(format, 'schemas/canonical/DossierStatusChanged.json', '"format": "dossierCode"', '"format": "dosierCode"');
      const issue = errors(loadRegistry(format, { env }).issues).find((i) => i.file === 'schemas/canonical/DossierStatusChanged.json');
      expect(issue).toMatchObject({ line: formatLine, message: expect.stringContaining('unknown format "dosierCode"'), hint: expect.stringContaining("did you mean 'dossierCode'?") });
    });
  });

  it('a route destination without an access grant stays a warning (admin-API grants persist and are restored at start)', () => {
    const dir = broken();
    edit(dir, 'config/hub.yaml', /    - service: VN\/GOV\/000\.00\.00\.G22\/DVCQG\/CapNhatTienDoHoSoMC\n      to: \{ participant: VN\/GOV\/000\.00\.00\.H56\/MOTCUA \}\n/, '');
    const { registry, issues } = loadRegistry(dir, { env });
    expect(registry).toBeDefined();
    expect(warnings(issues)).toContainEqual(expect.objectContaining({ file: 'config/hub.yaml', message: expect.stringMatching(/no access grant for VN\/GOV\/000\.00\.00\.G22\/DVCQG\/CapNhatTienDoHoSoMC[\s\S]*admin API[\s\S]*for all its destinations/) }));
  });
});
