import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { soapPrefixProblem } from '../codec/soap.js';
import type { ConfigIssue } from '../core/issues.js';
import { atPointer, pointerToPath } from '../core/json-pointer.js';
import { closest, suggestion } from '../core/suggest.js';
import { parseSource, type SourceFile } from '../core/yaml.js';
import {
  checkCaseInputs, checkMapping, compileCondition, compileMapping, envelopeProbe, loadCodeTable, loadMapping, loadMappingTests,
  type CodeTable, type CompiledMapping, type MappingDefinition, type MappingTestSuite,
} from '../mapping/index.js';
import { createAjv } from '../schema/ajv.js';
import { SchemaWalker, type SNode } from '../mapping/schema-walk.js';
import { SchemaSet, idForName, type JsonSchema } from '../schema/set.js';
import { checkPolicy, parseDuration, resolvePolicy, type RetryPolicyConfig } from '../delivery/retry.js';
import { interpolate } from './interpolate.js';
import { describeSchemaError, findRefCycle, jsonSyntaxError, type SchemaProblem } from './schema-problems.js';
import { deepFreeze } from '../core/objects.js';
import { findOperation, type Registry } from './registry.js';
import { isService } from '../trust/identity.js';
import { checkConnectorChecksums, checkConnectorWsSecurity, checkRouteTrust, checkTrustSections, normaliseTrustSections } from './trust.js';
import type { ConnectorConfig, HubConfig, OperationConfig, RouteConfig } from './types.js';

/**
 * Reads a hub's whole configuration (config/hub.yaml, connectors/, schemas/, mappings/), checks every
 * file and every cross-reference, and either returns an immutable Registry or the complete list of
 * issues, each with file, line and a fix. `lienthong check` prints these; `start` refuses to run on errors.
 */
export interface LoadResult {
  registry?: Registry;
  issues: ConfigIssue[];
  /**
   * What loaded even when the whole did not: the mappings that compiled, their golden tests and the schema
   * validators, so that `lienthong test` can run those suites while another part of the config is unfinished.
   */
  mappingsOnly?: MappingsOnly;
}

/** The part of a Registry that golden tests need. */
export type MappingsOnly = Pick<Registry, 'root' | 'validators' | 'mappings' | 'mappingTests'>;

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
}

const CONFIG_SCHEMAS = ['hub', 'connector'] as const;

export function loadRegistry(root: string, options: LoadOptions = {}): LoadResult {
  const env = options.env ?? process.env;
  const issues: ConfigIssue[] = [];
  const rel = (file: string) => (isAbsolute(file) ? relative(root, file) || file : file);
  const error = (file: string, message: string, extra: Partial<ConfigIssue> = {}) => issues.push({ file: rel(file), message, severity: 'error', ...extra });

  // 1. JSON Schemas: config-file kinds, canonical types and every system's native formats.
  const schemaFiles = listFiles(join(root, 'schemas'), (f) => f.endsWith('.json'));
  const schemaDocs: JsonSchema[] = [];
  const schemaTexts = new Map<string, { file: string; text: string }>();
  // Schema files that exist but did not load: what refers to them is told to fix them first, not to create them.
  const brokenSchemas = new Set<string>();
  for (const file of schemaFiles) {
    const name = relative(join(root, 'schemas'), file).split(sep).join('/').replace(/\.json$/, '');
    const text = readFileSync(file, 'utf8').replace(/^\uFEFF/, ''); // editors on Windows may save a BOM
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      const { message, line, column } = jsonSyntaxError(text, (e as Error).message);
      error(file, `not valid JSON: ${message}`, { line, column, hint: 'fix the JSON syntax (a trailing comma, a missing comma or quote just before this spot)' });
      brokenSchemas.add(name);
      continue;
    }
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
      error(file, 'a schema file must hold one JSON object');
      brokenSchemas.add(name);
      continue;
    }
    const schema = doc as JsonSchema;
    const expectedId = idForName(name);
    if (schema.$id !== expectedId) {
      error(file, `$id is ${JSON.stringify(schema.$id)} but this file's path requires "${expectedId}"`, { field: '$id', line: lineOf(file, '"$id"'), hint: `set "$id": "${expectedId}"` });
      brokenSchemas.add(name);
      continue;
    }
    schemaDocs.push(schema);
    schemaTexts.set(name, { file, text });
  }
  const schemas = new SchemaSet(schemaDocs);
  // Where a schema's problem sits: its file parsed again (JSON is YAML) only when there is a problem to place.
  const schemaProblem = (name: string, problem: SchemaProblem) => {
    const source = schemaTexts.get(name)!;
    const at = problem.path ? parseSource(rel(source.file), source.text).locate(problem.path) : undefined;
    error(source.file, problem.message, { field: problem.field, line: at?.line, column: at?.column, hint: problem.hint });
  };
  const ajv = createAjv();
  for (const schema of schemaDocs) {
    try {
      ajv.addSchema(schema);
    } catch (e) {
      schemaProblem(nameOf(schema), describeSchemaError(e as Error, nameOf(schema), schemas, 'schema cannot be added'));
      brokenSchemas.add(nameOf(schema));
    }
  }
  const validators = new Map<string, ValidateFunction>();
  const cyclesReported = new Set<string>();
  for (const schema of schemaDocs) {
    const name = nameOf(schema);
    if (brokenSchemas.has(name)) continue;
    try {
      validators.set(name, ajv.getSchema(schema.$id as string) as ValidateFunction);
    } catch (e) {
      brokenSchemas.add(name);
      // A $ref that leads back to itself without entering a property overflows Ajv's stack: name the cycle instead.
      const cycle = e instanceof RangeError ? findRefCycle(schemas, name) : undefined;
      if (cycle) {
        if (cyclesReported.has(cycle.nodes.join(' '))) continue;
        cyclesReported.add(cycle.nodes.join(' '));
        schemaProblem(cycle.owner, {
          message: `$ref cycle: ${cycle.nodes.join(' → ')}: each $ref leads to the next without entering a field, so no value could ever be checked`,
          path: cycle.path, hint: 'make one of them a real schema (a $ref may recurse only through properties or items, like a tree)',
        });
        continue;
      }
      schemaProblem(name, describeSchemaError(e as Error, name, schemas, 'schema does not compile'));
    }
  }
  // The hub stamps the envelope (messageId, messageType, occurredAt, correlationId, source) onto every canonical
  // message after mapping, then validates it: a canonical type that refuses those fields refuses every message.
  const probeAjv = createAjv({ allErrors: true });
  // Only schemas that loaded: a broken one was reported above, and adding it again would throw outside any try.
  for (const schema of schemaDocs) {
    if (nameOf(schema).startsWith('config/') || brokenSchemas.has(nameOf(schema))) continue;
    try {
      probeAjv.addSchema(schema);
    } catch {
      // reported by the first Ajv
    }
  }
  for (const name of schemas.names()) {
    if (!name.startsWith('canonical/') || brokenSchemas.has(name) || !validators.has(name)) continue;
    const validate = probeAjv.getSchema(idForName(name)) as ValidateFunction;
    validate(envelopeProbe(name.slice('canonical/'.length)));
    const refused = (validate.errors ?? []).filter((e) => refusesEnvelope(e));
    if (refused.length === 0) continue;
    const fields = [...new Set(refused.map((e) => envelopeFieldOf(e)))];
    const keyword = refused.find((e) => e.keyword === 'additionalProperties' || e.keyword === 'unevaluatedProperties');
    schemaProblem(name, {
      message: `canonical type ${name.slice('canonical/'.length)} refuses the envelope fields the hub stamps on every message after mapping (${fields.join(', ')})${keyword ? ` because of ${keyword.keyword}: false` : ''}: every message of this type would be refused`,
      path: keyword ? [...pointerToPath(keyword.schemaPath.replace(/^#/, ''))] : pointerToPath(refused[0]!.schemaPath.replace(/^#/, '')),
      hint: 'write it like the shipped canonical types: "allOf": [{ "$ref": "common.json#/$defs/Envelope" }] with "unevaluatedProperties": false (additionalProperties does not see the fields allOf declares)',
    });
  }
  // Config files are checked with every error reported at once, so an integrator fixes them in one pass.
  // Values from the environment stay text until the config schema says what they are ("8080" a port, "123456" a password).
  const configAjv = createAjv({ allErrors: true, coerceTypes: true });
  for (const schema of schemaDocs) if (nameOf(schema).startsWith('config/')) configAjv.addSchema(schema);
  const configValidator = (kind: (typeof CONFIG_SCHEMAS)[number]) => {
    try {
      return configAjv.getSchema(idForName(`config/${kind}.schema`)) as ValidateFunction | undefined;
    } catch {
      return undefined;
    }
  };

  const validateConfig = (src: SourceFile, kind: (typeof CONFIG_SCHEMAS)[number], value: unknown) => {
    const validate = configValidator(kind);
    if (!validate) {
      error(src.file, `the config schema schemas/config/${kind}.schema.json is missing or broken`);
      return false;
    }
    if (validate(value)) return true;
    const schema = schemaDocs.find((d) => d.$id === idForName(`config/${kind}.schema`));
    for (const e of withoutBranchNoise(validate.errors ?? [], schema, value)) {
      const path = pointerToPath(e.instancePath);
      // A key refused by propertyNames (e.g. a simulator option it does not have) is reported as an unknown field.
      const badKey = e.propertyName;
      const field = e.keyword === 'required' ? [...path, String(e.params.missingProperty)] : e.keyword === 'additionalProperties' ? [...path, String(e.params.additionalProperty)] : badKey !== undefined ? [...path, badKey] : path;
      const at = src.locate(field);
      const unknownKey = badKey ?? (e.keyword === 'additionalProperties' ? String(e.params.additionalProperty) : undefined);
      const allowed = e.keyword === 'enum' ? `${badKey !== undefined ? ': one of ' : ': '}${(e.params.allowedValues as unknown[]).join(', ')}` : '';
      const url = e.keyword === 'pattern' && String(e.params.pattern).startsWith('^https?://');
      const what = `${unknownKey !== undefined ? `unknown field ("${unknownKey}")` : url ? 'must be an absolute URL (http://… or https://…)' : e.message}${allowed}`;
      // An unknown key is most often a near miss of a declared one (client_id for clientId).
      const declared = e.keyword === 'additionalProperties' && schema ? Object.keys(objectSchemaOf(schema, e) ?.properties ?? {}) : [];
      const near = unknownKey !== undefined ? closest(unknownKey, declared) : undefined;
      error(src.file, `${e.instancePath ? `${e.instancePath.slice(1).replace(/\//g, '.')}: ` : ''}${what}`, {
        field: field.join('.') || undefined, line: at.line, column: at.column,
        hint: near !== undefined ? `did you mean '${near}'?` : e.keyword === 'additionalProperties' ? `remove or rename the field${declared.length ? ` (allowed here: ${declared.join(', ')})` : ''}; see schemas/config/${kind}.schema.json` : `see schemas/config/${kind}.schema.json`,
      });
    }
    return false;
  };

  const readYaml = (file: string): SourceFile | undefined => {
    const text = readFileSync(file, 'utf8');
    const src = parseSource(rel(file), text);
    const lines = text.split(/\r?\n/);
    // `{ authorization: Bearer ${TOKEN} }`: the braces of an unquoted ${…} end the flow map, and the parser then
    // reports every line after it. Say the one real problem once, at its line, with the fix.
    const unquoted = src.errors.map((e) => ({ e, expr: unquotedInterpolationInFlow(lines[e.line - 1] ?? '') })).find((x) => x.expr !== undefined);
    if (unquoted) {
      const { e, expr } = unquoted;
      error(file, `YAML: ${e.message}: ${expr} is not quoted inside { … }, so its braces end the map`, { line: e.line, column: (lines[e.line - 1] ?? '').indexOf(expr!) + 1 || e.column, hint: `quote the value: "${quotedValueOf(lines[e.line - 1]!, expr!)}" (or write the map in block style, one key per line)` });
      return undefined;
    }
    for (const e of src.errors) error(file, `YAML: ${e.message}`, { line: e.line, column: e.column, hint: e.hint ?? 'fix the YAML syntax (indentation, quotes, duplicate keys)' });
    return src.errors.length ? undefined : src;
  };

  const resolveEnv = (src: SourceFile) => {
    const { value, missing } = interpolate(src.value, env);
    for (const m of missing) {
      const at = src.locate(m.path);
      const where = { field: m.path.join('.'), line: at.line, column: at.column };
      if (m.malformed) error(src.file, `"${m.variable}" is not an environment expression`, { ...where, hint: 'write ${NAME} or ${NAME:-default}, NAME in capitals, digits and _' });
      else error(src.file, `environment variable ${m.variable} is not set`, { ...where, hint: `export ${m.variable}=… before starting, or write \${${m.variable}:-default}` });
    }
    return value;
  };

  // 2. Code tables and mappings (with their golden tests). Mappings and their tests take ${VAR} as every
  // config file does (a site's agency code, say), so a test expects what the mapping writes on this site.
  const mappingRoot = join(root, 'mappings');
  const yamlFiles = listFiles(mappingRoot, (f) => f.endsWith('.yaml') || f.endsWith('.yml'));
  const codeTables = new Map<string, CodeTable>();
  const brokenCodeTables = new Map<string, string>(); // file name → file, for "fix it first" instead of "unknown table"
  const definitions = new Map<string, MappingDefinition>();
  const suites: MappingTestSuite[] = [];
  // Mapping files found, loaded or not: a reference to one that did not load says to fix it, not to create it.
  const mappingFiles = new Set<string>();
  // Mappings whose tests are in a misnamed file: that file is the problem to report, not missing tests.
  const misnamedTests = new Set<string>();
  for (const file of yamlFiles) {
    const rest = relative(mappingRoot, file);
    if (!isCodeTableFile(rest) && !/\.test\.ya?ml$/.test(file)) mappingFiles.add(rest.split(sep).join('/').replace(/\.ya?ml$/, ''));
    const src = readYaml(file);
    if (!src && isCodeTableFile(rest)) brokenCodeTables.set(basename(file).replace(/\.ya?ml$/, ''), rel(file));
    if (!src) continue;
    if (isCodeTableFile(relative(mappingRoot, file))) {
      const { table, issues: found } = loadCodeTable(src);
      if (!table) brokenCodeTables.set(basename(file).replace(/\.ya?ml$/, ''), rel(file));
      issues.push(...found);
      if (table) {
        if (codeTables.has(table.name)) error(file, `code table "${table.name}" is defined twice (also in ${codeTables.get(table.name)!.file})`, { field: 'name', line: src.locate(['name']).line, hint: 'code table names are global: rename one' });
        else codeTables.set(table.name, { ...table, file: rel(file) });
      }
    } else if (/\.test\.ya?ml$/.test(file)) {
      const { suite, issues: found } = loadMappingTests({ ...src, file, value: resolveEnv(src) });
      issues.push(...found.map((i) => ({ ...i, file: rel(i.file) })));
      if (suite) suites.push(suite);
      else {
        // A test file with errors still names its mapping: those errors are the problem, not missing tests.
        const target = (src.value as { mapping?: unknown } | null)?.mapping;
        if (typeof target === 'string') misnamedTests.add(relative(mappingRoot, resolve(dirname(file), target)).split(sep).join('/').replace(/\.ya?ml$/, ''));
      }
    } else if (looksLikeTests(src.value)) {
      // Only *.test.yaml files are read as tests; any other name is read as a mapping and fails with confusing errors.
      const name = basename(file).replace(/([._-]tests?)?\.ya?ml$/i, '.test.yaml');
      error(file, 'this file holds golden tests (mapping:, cases:) but is not named *.test.yaml, so it is read as a mapping', { line: 1, hint: `name golden test files *.test.yaml: rename it to ${name}` });
      const target = (src.value as { mapping?: unknown }).mapping;
      if (typeof target === 'string') misnamedTests.add(relative(mappingRoot, resolve(dirname(file), target)).split(sep).join('/').replace(/\.ya?ml$/, ''));
    } else {
      const id = relative(mappingRoot, file).split(sep).join('/').replace(/\.ya?ml$/, '');
      const { mapping, issues: found } = loadMapping({ ...src, value: resolveEnv(src) }, id);
      issues.push(...found);
      if (mapping) definitions.set(id, mapping);
    }
  }
  const mappingEnv = { schemas, codeTables, brokenCodeTables };
  const mappings = new Map<string, CompiledMapping>();
  for (const def of definitions.values()) {
    for (const side of ['source', 'target'] as const) {
      if (!schemas.byName(def[side])) {
        const at = def.locate([side]);
        error(def.file, brokenSchemas.has(def[side]) ? `${side} schema "${def[side]}" did not load` : `${side} schema "${def[side]}" does not exist`, { field: side, line: at.line, column: at.column, hint: missingSchemaHint(def[side], schemas, brokenSchemas) });
      }
    }
    if (!schemas.byName(def.source) || !schemas.byName(def.target)) continue;
    const found = checkMapping(def, mappingEnv);
    issues.push(...found);
    if (found.some((i) => i.severity === 'error')) continue;
    try {
      mappings.set(def.id, compileMapping(def, mappingEnv));
    } catch (e) {
      error(def.file, `mapping does not compile: ${(e as Error).message}`);
    }
  }
  const tested = new Set(suites.map((s) => relative(mappingRoot, s.mappingFile).split(sep).join('/').replace(/\.ya?ml$/, '')));
  for (const def of definitions.values()) {
    // A test file beside it that did not load (or names another mapping) has its own errors: not "no golden tests".
    const beside = resolve(root, def.file).replace(/\.ya?ml$/, '.test.yaml');
    if (!tested.has(def.id) && !misnamedTests.has(def.id) && !existsSync(beside)) issues.push({ file: def.file, message: `mapping ${def.id} has no golden tests`, hint: `add ${basename(def.file).replace(/\.ya?ml$/, '.test.yaml')} beside it with at least one passing and one failing case`, severity: 'warning' });
  }
  for (const suite of suites) {
    const id = relative(mappingRoot, suite.mappingFile).split(sep).join('/').replace(/\.ya?ml$/, '');
    const at = suite.locate?.(['mapping']);
    if (definitions.has(id)) continue;
    if (mappingFiles.has(id)) error(suite.file, `these tests cannot run: mapping ${rel(suite.mappingFile)} did not load`, { field: 'mapping', line: at?.line, column: at?.column, hint: `fix the errors reported for ${rel(suite.mappingFile)} first` });
    else error(suite.file, `tests refer to mapping file ${rel(suite.mappingFile)}, which does not exist`, { field: 'mapping', line: at?.line, column: at?.column, hint: `point \`mapping:\` at a mapping file beside this test file: ${suggestion(basename(suite.mappingFile), [...mappingFiles].filter((m) => dirname(join(mappingRoot, m)) === dirname(suite.mappingFile)).map((m) => `${basename(m)}.yaml`), 'mappings')}` });
  }
  // Golden inputs must be messages the hub would let through to the mapping (see checkCaseInputs).
  const inputValidator = (name: string | undefined) => (name === undefined || brokenSchemas.has(name) || !schemas.byName(name) ? undefined : probeAjv.getSchema(idForName(name)) as ValidateFunction | undefined);
  for (const suite of suites) {
    const def = definitions.get(relative(mappingRoot, suite.mappingFile).split(sep).join('/').replace(/\.ya?ml$/, ''));
    const input = inputValidator(def?.source);
    if (!def || !input) continue;
    const request = inputValidator(def.request);
    issues.push(...checkCaseInputs(suite, { schema: def.source, validate: input }, request && { schema: def.request!, validate: request }).map((i) => ({ ...i, file: rel(i.file) })));
  }

  // 3. Connectors.
  const connectors = new Map<string, ConnectorConfig>();
  const connectorSources = new Map<string, SourceFile>(); // for the lines of checks that need the hub too (retry)
  const brokenConnectors = new Set<string>();
  for (const file of listFiles(join(root, 'connectors'), (f) => /\.ya?ml$/.test(f))) {
    brokenConnectors.add(basename(file).replace(/\.ya?ml$/, ''));
    const src = readYaml(file);
    if (!src) continue;
    const value = resolveEnv(src) as Record<string, unknown>;
    if (!validateConfig(src, 'connector', value)) continue;
    const id = basename(file).replace(/\.ya?ml$/, '');
    if (value.id !== id) {
      error(file, `connector id "${String(value.id)}" must equal the file name "${id}"`, { field: 'id', line: src.locate(['id']).line, hint: `rename the file to ${String(value.id)}.yaml or set id: ${id}` });
      continue;
    }
    const connector = readValues(() => normaliseConnector(value, rel(file), root), (bad) => error(file, bad.message, bad.path && { field: bad.path.join('.'), line: src.locate(bad.path).line, hint: 'use e.g. 250ms, 2s, 5m, 1h, 1d, 1h30m' }));
    if (!connector) continue;
    checkConnector(connector, src, { schemas, brokenSchemas, definitions, mappingFiles, error: (m, extra) => error(file, m, extra) });
    checkConnectorAddress(connector, src, env, (m, extra) => error(file, m, extra));
    checkLiteralSecrets(src, (m, extra) => error(file, m, extra));
    checkConnectorWsSecurity(connector, undefined, src, (m, extra) => error(file, m, extra));
    checkConnectorChecksums(connector, src, { error: (m, extra) => error(file, m, extra), warn: (m, extra) => issues.push({ file: rel(file), message: m, severity: 'warning', ...extra }) });
    connectors.set(id, connector);
    connectorSources.set(id, src);
    brokenConnectors.delete(id);
  }

  // 4. The hub itself and its routes.
  const hubFile = join(root, 'config', 'hub.yaml');
  let hub: HubConfig | undefined;
  const routes = new Map<string, RouteConfig>();
  if (!existsSync(hubFile)) error(hubFile, 'config/hub.yaml is missing', { hint: 'every hub needs config/hub.yaml with its identity and routes' });
  else {
    const src = readYaml(hubFile);
    const value = src && resolveEnv(src);
    if (src && validateConfig(src, 'hub', value)) {
      hub = readValues(() => normaliseHub(value as Record<string, unknown>, root), (bad) => error(hubFile, bad.message, bad.path && { field: bad.path.join('.'), line: src.locate(bad.path).line, hint: 'use e.g. 250ms, 2s, 5m, 1h, 1d, 1h30m' }));
    }
    if (src && hub) {
      const trustContext = { hub, connectors, src, error: (m: string, extra?: Partial<ConfigIssue>) => error(hubFile, m, extra), warn: (m: string, extra?: Partial<ConfigIssue>) => issues.push({ file: rel(hubFile), message: m, severity: 'warning', ...extra }) };
      checkTrustSections(trustContext);
      for (const c of connectors.values()) {
        const lifetime = c.wsSecurity?.maxTimestampLifetimeSeconds;
        if (lifetime !== undefined && !(lifetime >= 1 && lifetime <= 86_400)) error(c.file, 'wsSecurity.maxTimestampLifetime must be between 1 second and 1 day', { field: 'wsSecurity.maxTimestampLifetime', hint: 'WS-I BSP and common stacks use 5m' });
        if (c.wsSecurity?.sign && !hub.trust) error(c.file, 'wsSecurity.sign needs this hub\'s key: add a trust: section to config/hub.yaml (or set sign: false)', { field: 'wsSecurity.sign', hint: 'trust: { key, certificate, anchors } (see lienthong keys)' });
      }
      const leaseMs = hub.delivery.leaseMs;
      hub.routes.forEach((route, index) => {
        const at = (...field: Array<string | number>) => ({ field: `routes[${index}].${field.join('.')}`, line: src.locate(['routes', index, ...field]).line });
        const ends = [route.from, ...route.destinations.map((d) => d.to)];
        const broken = ends.map((ref) => ref.split('.', 1)[0]!).filter((id) => brokenConnectors.has(id));
        if (broken.length) {
          error(hubFile, `route ${route.id}: connector ${[...new Set(broken)].join(', ')} did not load`, { ...at(broken.includes(route.from.split('.', 1)[0]!) ? 'from' : 'to'), hint: `fix the errors reported for connectors/${broken[0]}.yaml first` });
          return;
        }
        const from = findOperation({ connectors }, route.from);
        if (!from) error(hubFile, `route ${route.id}: "${route.from}" is not a known connector operation`, { ...at('from'), hint: operationHint(route.from, operationRefs(connectors, 'inbound'), 'inbound') });
        else if (from.operation.direction !== 'inbound') error(hubFile, `route ${route.id}: "${route.from}" is an outbound operation; a route starts at an inbound one`, { ...at('from'), hint: 'set direction: inbound on that operation or pick another' });
        if (route.mode === 'sync' && route.destinations.length !== 1) error(hubFile, `route ${route.id}: a sync route has exactly one destination`, { ...at('to'), hint: 'use mode: async to fan out to several destinations' });
        route.destinations.forEach((destination, d) => {
          const where = Array.isArray((value as { routes: Array<{ to: unknown }> }).routes[index]?.to) ? ['to', d] : ['to'];
          if (isService(destination.to)) return; // another hub's service: checkRouteTrust finds the hub that serves it
          const to = findOperation({ connectors }, destination.to);
          if (!to) {
            error(hubFile, `route ${route.id}: "${destination.to}" is not a known connector operation`, { ...at(...where), hint: operationHint(destination.to, operationRefs(connectors, 'outbound'), 'outbound') });
            return;
          }
          if (to.operation.direction !== 'outbound') error(hubFile, `route ${route.id}: "${destination.to}" is an inbound operation; a route ends at outbound ones`, at(...where));
          // A delivery may start with half its lease left (one that waited for a slot is renewed only past half): an
          // attempt longer than that outlives its lease, and another worker delivers the same message again.
          const attemptMs = to.connector.timeouts.connectMs + to.connector.timeouts.requestMs;
          if (route.mode === 'async' && leaseMs < 2 * attemptMs) {
            issues.push({
              file: rel(hubFile), severity: 'warning', field: 'delivery.lease', line: src.locate(['delivery', 'lease']).line,
              message: `delivery.lease (${leaseMs} ms) is shorter than twice the longest attempt to ${destination.to} (connect + request timeouts, ${attemptMs} ms): a slow delivery could outlive its lease and be delivered twice`,
              hint: `set delivery.lease to ${Math.ceil((2 * attemptMs) / 1000)}s or more, or shorten that connector's timeouts`,
            });
          }
          if (from && from.operation.canonical.request !== to.operation.canonical.request) error(hubFile, `route ${route.id}: ${route.from} produces ${from.operation.canonical.request} but ${destination.to} expects ${to.operation.canonical.request}`, { ...at(...where), hint: 'both ends of a route must carry the same canonical type' });
          if (route.mode === 'sync' && from && from.operation.canonical.response !== to.operation.canonical.response) error(hubFile, `route ${route.id}: ${route.from} answers with ${from.operation.canonical.response ?? 'nothing'} but ${destination.to} returns ${to.operation.canonical.response ?? 'nothing'}`, { ...at(...where), hint: 'both ends of a sync route must carry the same canonical response type' });
          if (destination.when !== undefined && route.mode === 'sync') {
            error(hubFile, `route ${route.id}: a sync route's destination cannot have a when: condition (a caller waiting for an answer would get none)`, { ...at(...where), hint: 'remove when:, or make the route async' });
          } else if (destination.when !== undefined && from) {
            const context = {
              prefix: `route ${route.id}: `,
              never: `${destination.to} would never receive a message`,
              note: `; a route's when: is evaluated on the canonical message (${from.operation.canonical.request}), so compare with its values, not the caller's native codes`,
            };
            const { test, issues: found } = compileCondition(destination.when, { file: 'config/hub.yaml', locate: src.locate, path: ['routes', index, 'to', d, 'when'], source: `canonical/${from.operation.canonical.request}` }, codeTables, { schemas, context });
            issues.push(...found);
            destination.test = test;
          }
        });
        if (route.mode === 'async' && from) {
          if (from.operation.canonical.response) error(hubFile, `route ${route.id}: async routes answer 202 with a message id, but ${route.from} declares a canonical response`, { ...at('mode'), hint: `remove canonical.response and response: from ${route.from}, or use mode: sync` });
          const canonical = `canonical/${from.operation.canonical.request}`;
          if (route.orderingKey === undefined) route.orderingKey = schemaHasPath(schemas, canonical, 'dossierCode') ? 'dossierCode' : '';
          else if (route.orderingKey && !schemaHasPath(schemas, canonical, route.orderingKey)) error(hubFile, `route ${route.id}: ordering key "${route.orderingKey}" is not a field of ${from.operation.canonical.request}`, { ...at('orderingKey'), hint: 'name a field of the canonical type (e.g. dossierCode), or "" for no ordering' });
          for (const [k, path] of (from.operation.idempotencyKey ?? []).entries()) {
            if (schemaHasPath(schemas, canonical, path)) continue;
            const where = connectorSources.get(from.connector.id)?.locate(['operations', from.operation.id, 'idempotencyKey', k]);
            const fields = fieldNamesOf(schemas, canonical, path.split('.').slice(0, -1));
            error(from.connector.file, `operation ${from.operation.id}: idempotency key field "${path}" is not a field of ${from.operation.canonical.request}`, {
              field: `operations.${from.operation.id}.idempotencyKey[${k}]`, line: where?.line, column: where?.column,
              hint: `name fields of the canonical type: ${suggestion(path.split('.').pop()!, fields, `fields of ${from.operation.canonical.request}`)}`,
            });
          }
        }
        if (route.mode === 'sync') route.orderingKey = '';
        checkRouteTrust(route, index, trustContext);
        if (routes.has(route.from)) error(hubFile, `two routes start at ${route.from}`, { ...at('from'), hint: 'one inbound operation feeds one route; list several destinations in its `to`' });
        else routes.set(route.from, route);
      });
      // An inbound operation no route starts at answers every call 404: most likely a route was forgotten.
      const routed = new Set(hub.routes.map((r) => r.from));
      for (const connector of connectors.values()) {
        for (const op of Object.values(connector.operations)) {
          if (op.direction !== 'inbound' || routed.has(`${connector.id}.${op.id}`)) continue;
          const where = connectorSources.get(connector.id)!.locate(['operations', op.id]);
          issues.push({
            file: connector.file, severity: 'warning', field: `operations.${op.id}`, line: where.line, column: where.column,
            message: `inbound operation ${op.id} is not the start of any route: every call to it is answered 404`,
            hint: `add a route to config/hub.yaml with from: ${connector.id}.${op.id}, or remove the operation`,
          });
        }
      }
      // Retry policies: defaults < hub delivery.retry < connector < operation; unbounded or nonsensical ones are errors,
      // each reported once at its own line. A combination is checked only when every layer is sound on its own.
      const policyAt = (source: SourceFile, path: Array<string | number>, problem: string) => {
        const field = /^(\w+)/.exec(problem)?.[1];
        const at = field && source.locate([...path, field]).line !== source.locate(path).line ? [...path, field] : path;
        const where = source.locate(at);
        return { field: at.join('.'), line: where.line, column: where.column };
      };
      const hubRetry = hub.delivery.retry;
      const hubRetryProblems = hubRetry ? checkPolicy(hubRetry) : [];
      for (const problem of hubRetryProblems) error(hubFile, `delivery.retry: ${problem}`, policyAt(src, ['delivery', 'retry'], problem));
      for (const connector of connectors.values()) {
        const source = connectorSources.get(connector.id)!;
        const connectorProblems = connector.retry ? checkPolicy(connector.retry) : [];
        for (const problem of connectorProblems) error(connector.file, `retry: ${problem}`, policyAt(source, ['retry'], problem));
        for (const op of Object.values(connector.operations)) {
          if (op.direction !== 'outbound') continue;
          const opProblems = op.retry ? checkPolicy(op.retry) : [];
          for (const problem of opProblems) error(connector.file, `operations.${op.id}.retry: ${problem}`, policyAt(source, ['operations', op.id, 'retry'], problem));
          try {
            op.retryPolicy = resolvePolicy(hubRetry, connector.retry, op.retry);
          } catch (e) {
            if (hubRetryProblems.length || connectorProblems.length || opProblems.length) continue;
            const path = op.retry ? ['operations', op.id, 'retry'] : connector.retry ? ['retry'] : ['operations', op.id];
            error(connector.file, `operations.${op.id}: the retry policy it gets (hub delivery.retry, then this connector's retry${op.retry ? ', then its own' : ''}): ${(e as Error).message}`, policyAt(source, path, ''));
          }
        }
      }
      const ids = new Set<string>();
      hub.routes.forEach((r, i) => {
        if (ids.has(r.id)) error(hubFile, `route id "${r.id}" is used twice`, { field: `routes[${i}].id`, line: src.locate(['routes', i, 'id']).line });
        ids.add(r.id);
      });
    }
  }

  const errors = issues.filter((i) => i.severity === 'error');
  if (errors.length || !hub) return { issues, mappingsOnly: { root, validators, mappings, mappingTests: suites } };
  const registry: Registry = {
    root,
    hub: deepFreeze(hub),
    connectors: deepFreeze(connectors),
    schemas,
    validators,
    mappings,
    codeTables,
    routes,
    mappingTests: suites,
  };
  return { registry: Object.freeze(registry), issues };
}

interface CheckContext {
  schemas: SchemaSet;
  brokenSchemas: ReadonlySet<string>;
  definitions: ReadonlyMap<string, MappingDefinition>;
  /** Mapping files found (by id), loaded or not. */
  mappingFiles: ReadonlySet<string>;
  error: (message: string, extra?: Partial<ConfigIssue>) => void;
}

/** Every operation's schemas and mappings exist and point the right way (native ⇄ canonical). */
function checkConnector(connector: ConnectorConfig, src: SourceFile, ctx: CheckContext): void {
  if (connector.transport === 'soap' && !connector.soap) ctx.error('transport is soap but the soap: section (namespace, version) is missing', { field: 'soap', line: src.locate(['transport']).line, hint: 'add soap: { version: "1.1", namespace: "…" }' });
  const prefixProblem = connector.soap?.prefix === undefined ? undefined : soapPrefixProblem(connector.soap.version, connector.soap.prefix);
  if (prefixProblem) ctx.error(`soap.prefix cannot be used: ${prefixProblem}`, { field: 'soap.prefix', line: src.locate(['soap', 'prefix']).line, hint: 'pick another prefix, e.g. m or the system\'s own short name' });
  for (const op of Object.values(connector.operations)) {
    const at = (...path: string[]) => {
      const where = src.locate(['operations', op.id, ...path]);
      return { field: ['operations', op.id, ...path].join('.'), line: where.line, column: where.column };
    };
    // Fields that say how the hub calls the peer mean nothing on an operation where the peer calls the hub.
    if (op.direction === 'inbound') {
      for (const field of ['path', 'result', 'notFound', 'retry', 'headers'] as const) {
        if (op[field] !== undefined) ctx.error(`operation ${op.id} is inbound, but ${field} is an outbound-only field (it says how the hub calls the system)`, { ...at(field), hint: `remove ${field}, or set direction: outbound if the hub calls this operation` });
      }
    }
    if (op.direction === 'outbound' && !connector.baseUrl) ctx.error(`operation ${op.id} is outbound but the connector has no baseUrl`, { ...at('direction'), hint: 'add baseUrl: ${SYSTEM_URL} to the connector' });
    // Paths the hub reads from the peer's answer: misspelled, every lookup would be "not found", or every delivery judged a failure.
    const answerSchema = op.response?.schema;
    const answerPaths: Array<[string[], string | undefined]> = [[['notFound', 'missing'], op.notFound?.missing], [['result', 'codeField'], op.result?.codeField], [['result', 'messageField'], op.result?.messageField]];
    for (const [field, path] of answerPaths) {
      if (path === undefined || op.direction === 'inbound' || !answerSchema || !ctx.schemas.byName(answerSchema) || schemaHasPath(ctx.schemas, answerSchema, path)) continue;
      ctx.error(`operation ${op.id}: ${field.join('.')} "${path}" is not a field of the answer (${answerSchema})`, { ...at(...field), hint: 'name a field of the response schema (a dotted path)' });
    }
    if (op.notFound?.codes && op.direction === 'outbound') {
      if (!op.result) ctx.error(`operation ${op.id}: notFound.codes are read at result.codeField, but the operation has no result:`, { ...at('notFound', 'codes'), hint: 'add result: { codeField, success } naming the answer\'s code field, or use notFound.missing / notFound.status' });
      else {
        const success = new Set((op.result.success ?? []).map(String));
        const clash = op.notFound.codes.filter((c) => success.has(String(c)));
        if (clash.length) ctx.error(`operation ${op.id}: notFound.codes ${clash.join(', ')} ${clash.length > 1 ? 'are' : 'is'} also in result.success: every successful answer would be "not found"`, { ...at('notFound', 'codes'), hint: 'list only the code(s) the system uses for "no such record"' });
      }
    }
    op.result?.resendWith?.forEach((rule, i) => {
      if (rule.messageContains !== undefined && !op.result!.messageField) ctx.error(`operation ${op.id}: resendWith[${i}].messageContains needs result.messageField, the answer's field to look in`, { ...at('result', 'resendWith', String(i), 'messageContains'), hint: 'add result.messageField (e.g. message), or remove messageContains' });
    });
    if (op.canonical.response && !op.response) ctx.error(`operation ${op.id} declares a canonical response but no response: { schema, mapping }`, { ...at('canonical'), hint: 'add response: with the native schema and its mapping' });
    for (const kind of ['request', 'response'] as const) {
      const message = op[kind];
      if (!message) continue;
      const canonicalName = op.canonical[kind];
      if (!canonicalName) {
        ctx.error(`operation ${op.id} has a ${kind} section but canonical.${kind} is not set`, at('canonical'));
        continue;
      }
      const canonical = `canonical/${canonicalName}`;
      if (ctx.brokenSchemas.has(canonical)) ctx.error(`canonical type ${canonicalName} did not load`, { ...at('canonical', kind), hint: `fix the errors reported for schemas/${canonical}.json first` });
      else if (!ctx.schemas.byName(canonical)) ctx.error(`canonical type ${canonicalName} does not exist`, { ...at('canonical', kind), hint: `create schemas/${canonical}.json, or: ${suggestion(canonicalName, ctx.schemas.names().filter((n) => n.startsWith('canonical/') && n !== 'canonical/common').map((n) => n.slice('canonical/'.length)), 'canonical types')}` });
      if (!ctx.schemas.byName(message.schema)) ctx.error(`schema "${message.schema}" ${ctx.brokenSchemas.has(message.schema) ? 'did not load' : 'does not exist'}`, { ...at(kind, 'schema'), hint: missingSchemaHint(message.schema, ctx.schemas, ctx.brokenSchemas) });
      const def = ctx.definitions.get(message.mapping);
      if (!def) {
        if (ctx.mappingFiles.has(message.mapping)) ctx.error(`mapping "${message.mapping}" did not load`, { ...at(kind, 'mapping'), hint: `fix the errors reported for mappings/${message.mapping}.yaml first` });
        else ctx.error(`mapping "${message.mapping}" does not exist`, { ...at(kind, 'mapping'), hint: `create mappings/${message.mapping}.yaml, or: ${suggestion(message.mapping, [...ctx.mappingFiles], 'mappings')} (names are paths under mappings/ without .yaml)` });
        continue;
      }
      // Inbound requests and outbound responses come from the system (native → canonical); the rest go to it.
      const intoCanonical = (op.direction === 'inbound') === (kind === 'request');
      const [source, target] = intoCanonical ? [message.schema, canonical] : [canonical, message.schema];
      // A schema that is missing is reported above; comparing with its misspelt name would only repeat it.
      if ((def.source !== source || def.target !== target) && ctx.schemas.byName(message.schema)) {
        ctx.error(`mapping ${message.mapping} maps ${def.source} → ${def.target}, but the ${op.direction} ${kind} of ${op.id} needs ${source} → ${target}`, {
          ...at(kind, 'mapping'), hint: `set source: ${source} and target: ${target} in ${def.file}, or reference another mapping`,
        });
      }
      // $request paths read the system's request of this exchange: only an answer has one, and it must be this operation's.
      if (def.request !== undefined && kind === 'request') {
        ctx.error(`mapping ${message.mapping} declares request: ${def.request} (for $request paths), but it maps the request of ${op.id}: only a response or reply mapping has a request to read`, {
          ...at(kind, 'mapping'), hint: `remove request: from ${def.file}, or use this mapping as a response mapping`,
        });
      } else if (def.request !== undefined && def.request !== op.request?.schema) {
        ctx.error(`mapping ${message.mapping} reads $request as ${def.request}, but the request of ${op.id} is ${op.request?.schema ?? '(none)'}`, {
          ...at(kind, 'mapping'), hint: `set request: ${op.request?.schema ?? '…'} in ${def.file}`,
        });
      }
    }
  }
}

/**
 * The connector's address once the environment is filled in: an absolute http(s) URL (the schema sees only that it
 * starts with http:// or https://). And a connector sent to a real system must not use a credential's default from
 * the file (`${DVCQG_PASSWORD:-demo}`): those are the demo simulators' credentials, kept so that the demo runs with
 * no setup, and would go to the real system when the variable is forgotten.
 */
function checkConnectorAddress(connector: ConnectorConfig, src: SourceFile, env: NodeJS.ProcessEnv, error: (message: string, extra?: Partial<ConfigIssue>) => void): void {
  if (connector.baseUrl === undefined) return;
  const raw = src.value as Record<string, unknown>;
  const at = (path: Array<string | number>) => {
    const where = src.locate(path);
    return { field: path.join('.'), line: where.line, column: where.column };
  };
  // The value itself is not repeated: it may carry a user and password.
  const from = variablesIn(raw.baseUrl);
  const named = from.length ? ` (from ${from.join(', ')})` : '';
  let url: URL | undefined;
  try {
    url = new URL(connector.baseUrl);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
    error(`baseUrl${named} is not a valid absolute http(s) URL`, {
      ...at(['baseUrl']),
      hint: `write http(s)://host[:port][/path], without spaces${from.length ? `, in ${from.join(', ')}` : ''}; percent-encode special characters of a user or password`,
    });
    return;
  }
  if (isDemoHost(url.hostname)) return;
  for (const path of credentialPaths(raw)) {
    const defaulted = defaultsUsed(valueAt(raw, path), env);
    if (!defaulted.length) continue;
    error(`${path.join('.')}: ${defaulted.join(', ')} ${defaulted.length > 1 ? 'are' : 'is'} not set, so the default written in this file (a demo credential) would be sent to the real system at baseUrl${named}`, {
      ...at(path),
      hint: `set ${defaulted.join(' and ')} to the credential the system gave this hub`,
    });
  }
}

/** Header names that carry a credential (other headers, `x-api-version: 2`, may be written as they are). */
const SECRET_HEADER = /authorization|token|key|secret|passw|cookie|session|credential|signature/i;

/**
 * Secrets live in the environment, never in a committed file: a password, client secret, checksum secret or
 * credential header written without `${…}` is refused (README: "Secrets never live in committed files").
 */
function checkLiteralSecrets(src: SourceFile, error: (message: string, extra?: Partial<ConfigIssue>) => void): void {
  const raw = src.value as Record<string, unknown>;
  for (const path of credentialPaths(raw)) {
    if (path[0] === 'auth' && path[1] === 'headers' && !SECRET_HEADER.test(String(path[2]))) continue;
    const value = valueAt(raw, path);
    if (typeof value !== 'string' || /\$\{[^}]*\}/.test(value)) continue;
    const where = src.locate(path);
    const bearer = path[1] === 'headers' && /^bearer\s/i.test(value);
    const name = `${String(raw.id ?? 'SYSTEM')}_${bearer ? 'token' : String(path[path.length - 1])}`.replace(/([a-z])([A-Z])/g, '$1_$2').replace(/[^A-Za-z0-9]+/g, '_').toUpperCase();
    const example = path[1] === 'headers' && /^(bearer|basic)\s/i.test(value) ? `"${value.split(/\s/)[0]} \${${name}}"` : `"\${${name}}"`;
    // The value itself is not repeated: it is the secret.
    error(`${path.join('.')} is written in the file: secrets come from the environment only`, {
      field: path.join('.'), line: where.line, column: where.column,
      hint: `write ${path[path.length - 1]}: ${example} and set ${name} where the hub runs (a \${${name}:-default} is for the demo simulators only)`,
    });
  }
}

/** Loopback addresses and the names reserved for tests (RFC 6761): where the demo simulators and test doubles live. */
function isDemoHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)) return true;
  return ['localhost', 'test', 'example', 'invalid'].some((name) => host === name || host.endsWith(`.${name}`));
}

/** Where a connector's file holds credentials: auth's password, client secret and headers, and checksum secrets. */
function credentialPaths(raw: Record<string, unknown>): Array<Array<string | number>> {
  const paths: Array<Array<string | number>> = [];
  const auth = raw.auth as Record<string, unknown> | undefined;
  if (auth && typeof auth === 'object') {
    for (const key of ['password', 'clientSecret']) if (key in auth) paths.push(['auth', key]);
    const headers = auth.headers;
    if (headers && typeof headers === 'object') for (const name of Object.keys(headers)) paths.push(['auth', 'headers', name]);
  }
  const operations = raw.operations as Record<string, { checksum?: Record<string, { secret?: unknown } | undefined> }> | undefined;
  for (const [id, op] of Object.entries(operations && typeof operations === 'object' ? operations : {})) {
    for (const side of ['request', 'response']) {
      const setting = op?.checksum?.[side];
      if (setting && typeof setting === 'object' && 'secret' in setting) paths.push(['operations', id, 'checksum', side, 'secret']);
    }
  }
  return paths;
}

function valueAt(root: unknown, path: Array<string | number>): unknown {
  let node = root;
  for (const key of path) node = node && typeof node === 'object' ? (node as Record<string | number, unknown>)[key] : undefined;
  return node;
}

/** The variables of `${NAME}` / `${NAME:-default}` expressions in a raw config text. */
function variablesIn(text: unknown): string[] {
  return typeof text === 'string' ? [...text.matchAll(/\$\{([A-Z_][A-Z0-9_]*)(?::-[^}]*)?\}/g)].map((m) => m[1]!) : [];
}

/** The variables of `${NAME:-default}` expressions in a raw config text that are unset (or empty), so the default is used. */
function defaultsUsed(text: unknown, env: NodeJS.ProcessEnv): string[] {
  if (typeof text !== 'string') return [];
  return [...text.matchAll(/\$\{([A-Z_][A-Z0-9_]*):-[^}]*\}/g)].map((m) => m[1]!).filter((name) => env[name] === undefined || env[name] === '');
}

/** A `${…}` written as a plain (unquoted) value inside a YAML flow map `{ … }` on this line, if any. */
function unquotedInterpolationInFlow(line: string): string | undefined {
  const code = line.replace(/\s#.*$/, '');
  const open = code.indexOf('{');
  if (open < 0) return undefined;
  // Drop quoted strings: a quoted ${…} is fine.
  const bare = code.slice(open).replace(/"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'/g, (q) => ' '.repeat(q.length));
  return /\$\{[^}]*\}/.exec(bare)?.[0];
}

/** The value around `${…}` on a flow-map line (`Bearer ${TOKEN}`), for the hint. */
function quotedValueOf(line: string, expr: string): string {
  const at = line.indexOf(expr);
  const start = Math.max(line.lastIndexOf(':', at) + 1, line.lastIndexOf(',', at) + 1, line.lastIndexOf('{', at) + 1);
  const ends = [line.indexOf(',', at + expr.length), line.indexOf('}', at + expr.length)].filter((i) => i >= 0);
  return line.slice(start, ends.length ? Math.min(...ends) : line.length).trim();
}

type AjvErrors = NonNullable<ValidateFunction['errors']>;

/**
 * A failed oneOf reports every branch's complaint. When its branches are told apart by a constant (auth's
 * `scheme`), only the branch the value names matters: keep its errors, or say the constant is none of the
 * known ones. Otherwise keep the oneOf itself and drop the branches' noise.
 */
function withoutBranchNoise(errors: AjvErrors, schema: JsonSchema | undefined, value: unknown): AjvErrors {
  const kept: AjvErrors = [];
  const dropped: string[] = []; // schemaPath prefixes of branches not to report
  for (const e of errors) {
    if (e.keyword !== 'oneOf') continue;
    const branches = schema && (atPointer(schema, e.schemaPath) as JsonSchema[] | undefined);
    const key = branches && discriminator(branches);
    const instance = atPointer(value, `#${e.instancePath}`);
    if (!branches || !key || !instance || typeof instance !== 'object') {
      kept.push(e);
      dropped.push(`${e.schemaPath}/`);
      continue;
    }
    const given = (instance as Record<string, unknown>)[key];
    const constants = branches.map((b) => (b.properties as Record<string, { const: unknown }>)[key]!.const);
    const chosen = constants.findIndex((c) => c === given);
    branches.forEach((_, i) => { if (i !== chosen) dropped.push(`${e.schemaPath}/${i}/`); });
    if (chosen >= 0) continue;
    kept.push(given === undefined
      ? { ...e, keyword: 'required', params: { missingProperty: key }, message: `must have required property '${key}' (one of ${constants.join(', ')})` }
      : { ...e, keyword: 'enum', instancePath: `${e.instancePath}/${key}`, params: { allowedValues: constants }, message: `unknown ${key} ${JSON.stringify(given)}, must be one of` });
  }
  // "must match then schema" and "property name must be valid" only wrap the error that says what is wrong.
  for (const e of errors) {
    if (e.keyword === 'oneOf' || e.keyword === 'if' || e.keyword === 'propertyNames') continue;
    if (dropped.some((prefix) => e.schemaPath.startsWith(prefix))) continue;
    kept.push(e);
  }
  return kept;
}

/**
 * The object schema an additionalProperties error is about. Ajv's schemaPath is relative to the schema a $ref
 * led to (the Operation of operations.x says only "#/additionalProperties"), so it is trusted only when it
 * descends as deep as the value; otherwise the schema is found by walking the value's path through it.
 */
function objectSchemaOf(schema: JsonSchema, e: AjvErrors[number]): JsonSchema | undefined {
  const deref = (node: unknown): JsonSchema | undefined => {
    let n = node as JsonSchema | undefined;
    for (let i = 0; i < 8 && n && typeof n.$ref === 'string' && n.$ref.startsWith('#/'); i++) n = atPointer(schema, n.$ref) as JsonSchema | undefined;
    return n && typeof n === 'object' ? n : undefined;
  };
  const depth = pointerToPath(e.instancePath).length;
  const tokens = pointerToPath(e.schemaPath.replace(/^#/, '')).slice(0, -1);
  const descents = tokens.filter((t, i) => t === 'items' || t === 'additionalProperties' || (tokens[i - 1] === 'properties' && tokens[i - 2] !== 'properties')).length;
  if (descents === depth) return deref(atPointer(schema, `#/${tokens.join('/')}`));
  let node = deref(schema);
  for (const key of pointerToPath(e.instancePath)) {
    const properties = node?.properties as Record<string, unknown> | undefined;
    node = deref(properties && Object.hasOwn(properties, key) ? properties[key] : typeof node?.additionalProperties === 'object' ? node.additionalProperties : node?.items);
  }
  return node;
}

/** The property every branch of a oneOf fixes to its own constant (auth's `scheme`), if there is one. */
function discriminator(branches: JsonSchema[]): string | undefined {
  const first = branches[0]?.properties as Record<string, { const?: unknown }> | undefined;
  return Object.keys(first ?? {}).find((key) => branches.every((b) => (b.properties as Record<string, { const?: unknown }> | undefined)?.[key]?.const !== undefined));
}

function normaliseConnector(value: Record<string, unknown>, file: string, root: string): ConnectorConfig {
  const soap = value.soap as Record<string, unknown> | undefined;
  const wsSecurity = value.wsSecurity as Record<string, unknown> | undefined;
  const timeouts = (value.timeouts ?? {}) as Record<string, number>;
  const operations: Record<string, OperationConfig> = {};
  for (const [id, op] of Object.entries(value.operations as Record<string, Omit<OperationConfig, 'id'>>)) operations[id] = { ...op, id };
  return {
    id: value.id as string,
    file,
    name: value.name as string,
    participant: value.participant as string,
    transport: value.transport as ConnectorConfig['transport'],
    soap: soap && { version: (soap.version as '1.1' | '1.2') ?? '1.1', namespace: soap.namespace as string, prefix: (soap.prefix as string) ?? 'ns', qualifyChildren: (soap.qualifyChildren as boolean) ?? true },
    wsSecurity: wsSecurity && {
      peerCertificateFile: isAbsolute(wsSecurity.peerCertificate as string) ? wsSecurity.peerCertificate as string : join(root, wsSecurity.peerCertificate as string),
      sign: (wsSecurity.sign as boolean | undefined) ?? true,
      requireSigned: (wsSecurity.requireSigned as boolean | undefined) ?? true,
      timestampTtlSeconds: Math.round(durationAt(['wsSecurity', 'timestampTtl'], wsSecurity.timestampTtl, '5m') / 1000),
      maxTimestampLifetimeSeconds: Math.round(durationAt(['wsSecurity', 'maxTimestampLifetime'], wsSecurity.maxTimestampLifetime, '5m') / 1000),
    },
    baseUrl: (value.baseUrl as string | undefined)?.replace(/\/+$/, ''),
    auth: (value.auth as ConnectorConfig['auth']) ?? { scheme: 'none' },
    timeouts: { connectMs: timeouts.connectMs ?? 3000, requestMs: timeouts.requestMs ?? 10000 },
    retry: value.retry as RetryPolicyConfig | undefined,
    operations,
  };
}

/** A value the config schema lets through but that cannot be read (a duration such as "2 minutes"), and where it is. */
class BadValue extends Error {
  constructor(message: string, readonly path?: string[]) {
    super(message);
  }
}

function durationAt(path: string[], given: unknown, fallback: string): number {
  try {
    return parseDuration((given as string | number | undefined) ?? fallback);
  } catch (error) {
    throw new BadValue(`${path.join('.')}: ${(error as Error).message}`, path);
  }
}

/** Runs a normaliser; a value it cannot read is reported as a config error (file, field, line), never thrown at start. */
function readValues<T>(normalise: () => T, report: (bad: BadValue) => void): T | undefined {
  try {
    return normalise();
  } catch (error) {
    report(error instanceof BadValue ? error : new BadValue((error as Error).message));
    return undefined;
  }
}

function normaliseHub(value: Record<string, unknown>, root: string): HubConfig {
  const server = (value.server ?? {}) as Partial<HubConfig['server']>;
  const trusted = normaliseTrustSections(value, root);
  const delivery = (value.delivery ?? {}) as Record<string, unknown>;
  const store = (value.store ?? {}) as Record<string, unknown>;
  const duration = (given: unknown, fallback: string, ...path: string[]) => durationAt(path, given, fallback);
  const routes = ((value.routes as Array<Record<string, unknown>>) ?? []).map((route): RouteConfig => {
    const to = route.to as string | Array<string | { to: string; when?: unknown }>;
    const destinations = (Array.isArray(to) ? to : [to]).map((d) => (typeof d === 'string' ? { to: d } : { to: d.to, when: d.when }));
    return {
      id: route.id as string, description: route.description as string | undefined, mode: route.mode as RouteConfig['mode'], from: route.from as string,
      to: destinations[0]!.to, destinations, orderingKey: route.orderingKey as string,
    };
  });
  return {
    hub: value.hub as HubConfig['hub'],
    server: { host: server.host ?? '127.0.0.1', port: server.port ?? 8080, bodyLimitBytes: server.bodyLimitBytes ?? 1_048_576, xmlBodyLimitBytes: server.xmlBodyLimitBytes ?? 262_144, requestTimeoutMs: server.requestTimeoutMs ?? 30_000, docs: server.docs ?? true, logLevel: server.logLevel ?? 'info', ...trusted.server },
    routes,
    trust: trusted.trust,
    access: trusted.access,
    federation: trusted.federation,
    delivery: {
      concurrency: (delivery.concurrency as number) ?? 8,
      leaseMs: duration(delivery.lease, '2m', 'delivery', 'lease'),
      pollIntervalMs: duration(delivery.pollInterval, '200ms', 'delivery', 'pollInterval'),
      idempotencyTtlMs: duration(delivery.idempotencyTtl, '7d', 'delivery', 'idempotencyTtl'),
      retry: delivery.retry as RetryPolicyConfig | undefined,
    },
    store: {
      dataDir: (store.dataDir as string) ?? '.data',
      payloadRetentionMs: duration(store.payloadRetention, '30d', 'store', 'payloadRetention'),
      metadataRetentionMs: duration(store.metadataRetention, '400d', 'store', 'metadataRetention'),
    },
    demo: value.demo as HubConfig['demo'],
  };
}

/** The schema nodes at a path of declared properties of schema `name`, or undefined when the path is not there. */
function nodesAtPath(walker: SchemaWalker, name: string, path: readonly string[]): SNode[] | undefined {
  let nodes = walker.root(name);
  for (const key of path) {
    if (!nodes) return undefined;
    const found = walker.property(nodes, key);
    nodes = found.kind === 'found' ? found.nodes : undefined;
  }
  return nodes;
}

/** The property names at a path of a schema, for suggestions. */
function fieldNamesOf(schemas: SchemaSet, name: string, path: string[]): string[] {
  const walker = new SchemaWalker(schemas);
  const nodes = nodesAtPath(walker, name, path);
  // The envelope fields are stamped by the hub and differ on every delivery: never a key.
  return nodes ? walker.propertyNames(nodes).filter((n) => !(ENVELOPE_FIELDS as readonly string[]).includes(n)) : [];
}

/** Whether a dotted path names a property of a schema. */
function schemaHasPath(schemas: SchemaSet, name: string, path: string): boolean {
  return nodesAtPath(new SchemaWalker(schemas), name, path.split('.')) !== undefined;
}

/** "did you mean …?" for a near miss (operation ids are case-sensitive), then every operation of that direction. */
function operationHint(ref: string, refs: string[], direction: string): string {
  if (refs.length === 0) return `(no ${direction} operations defined)`;
  const near = closest(ref, refs);
  return `${near !== undefined ? `did you mean ${near}? ` : ''}one of: ${refs.join(', ')}`;
}

function operationRefs(connectors: ReadonlyMap<string, ConnectorConfig>, direction: 'inbound' | 'outbound'): string[] {
  return [...connectors.values()].flatMap((c) => Object.values(c.operations).filter((o) => o.direction === direction).map((o) => `${c.id}.${o.id}`));
}

/** A document with the keys of golden tests and none of a mapping's. */
function looksLikeTests(value: unknown): boolean {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const has = (key: string) => Object.hasOwn(value, key);
  return (has('cases') || has('mapping')) && !has('fields') && !has('source') && !has('target');
}

/** How to fix a reference to a schema that is not there: fix the file if it exists but did not load, else create it or correct the name. */
function missingSchemaHint(name: string, schemas: SchemaSet, broken: ReadonlySet<string>): string {
  if (broken.has(name)) return `fix the errors reported for schemas/${name}.json first`;
  return `create schemas/${name}.json, or: ${suggestion(name, schemas.names().filter((n) => !n.startsWith('config/')), 'schemas')}`;
}

/** A code table lives in a `codes` folder under mappings/ (`file` is relative to mappings/: the root's own path may hold one too). */
function isCodeTableFile(file: string): boolean {
  return file.split(sep).includes('codes');
}

function nameOf(schema: JsonSchema): string {
  const id = String(schema.$id);
  return id.slice('https://lienthong.invalid/schemas/'.length, -'.json'.length);
}

function lineOf(file: string, needle: string): number | undefined {
  const index = readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(needle));
  return index >= 0 ? index + 1 : undefined;
}

function listFiles(dir: string, keep: (file: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...listFiles(path, keep));
    else if (keep(path)) out.push(path);
  }
  return out;
}

const ENVELOPE_FIELDS = Object.keys(envelopeProbe('Probe'));

function envelopeFieldOf(e: ErrorObject): string | undefined {
  const property = e.params.additionalProperty ?? e.params.unevaluatedProperty;
  if ((e.keyword === 'additionalProperties' || e.keyword === 'unevaluatedProperties') && e.instancePath === '' && (ENVELOPE_FIELDS as readonly unknown[]).includes(property)) return String(property);
  const first = pointerToPath(e.instancePath)[0];
  return first !== undefined && (ENVELOPE_FIELDS as readonly string[]).includes(first) ? first : undefined;
}

/** Whether a validation error of the envelope probe is about an envelope field (not, say, a required business field). */
function refusesEnvelope(e: ErrorObject): boolean {
  return envelopeFieldOf(e) !== undefined;
}
