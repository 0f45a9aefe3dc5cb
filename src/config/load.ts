import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, relative, sep } from 'node:path';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { soapPrefixProblem } from '../codec/soap.js';
import { ConfigError, type ConfigIssue } from '../core/issues.js';
import { suggestion } from '../core/suggest.js';
import { parseSource, type SourceFile } from '../core/yaml.js';
import {
  checkMapping, compileCondition, compileMapping, loadCodeTable, loadMapping, loadMappingTests,
  type CodeTable, type CompiledMapping, type MappingDefinition, type MappingTestSuite,
} from '../mapping/index.js';
import { createAjv } from '../schema/ajv.js';
import { SchemaSet, idForName, type JsonSchema } from '../schema/set.js';
import { checkPolicy, parseDuration, resolvePolicy, type RetryPolicyConfig } from '../delivery/retry.js';
import { interpolate } from './interpolate.js';
import { deepFreeze, findOperation, type Registry } from './registry.js';
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
}

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
  for (const file of schemaFiles) {
    const name = relative(join(root, 'schemas'), file).split(sep).join('/').replace(/\.json$/, '');
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(file, 'utf8').replace(/^\uFEFF/, '')); // editors on Windows may save a BOM
    } catch (e) {
      error(file, `not valid JSON: ${(e as Error).message}`, { hint: 'fix the JSON syntax (a JSON linter shows the exact spot)' });
      continue;
    }
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
      error(file, 'a schema file must hold one JSON object');
      continue;
    }
    const schema = doc as JsonSchema;
    const expectedId = idForName(name);
    if (schema.$id !== expectedId) {
      error(file, `$id is ${JSON.stringify(schema.$id)} but this file's path requires "${expectedId}"`, { field: '$id', line: lineOf(file, '"$id"'), hint: `set "$id": "${expectedId}"` });
      continue;
    }
    schemaDocs.push(schema);
  }
  const schemas = new SchemaSet(schemaDocs);
  const ajv = createAjv();
  for (const schema of schemaDocs) {
    try {
      ajv.addSchema(schema);
    } catch (e) {
      error(join(root, 'schemas', `${nameOf(schema)}.json`), `schema cannot be added: ${(e as Error).message}`);
    }
  }
  const validators = new Map<string, ValidateFunction>();
  for (const schema of schemaDocs) {
    const name = nameOf(schema);
    try {
      validators.set(name, ajv.getSchema(schema.$id as string) as ValidateFunction);
    } catch (e) {
      error(join(root, 'schemas', `${name}.json`), `schema does not compile: ${(e as Error).message}`, {
        hint: 'check $ref targets, formats (cccd, cmnd, personalId, agencyCode, dossierCode, procedureCode, vnPhone, date-dmy, …) and keywords',
      });
    }
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
    for (const e of withoutBranchNoise(validate.errors ?? [])) {
      const path = pointerToPath(e.instancePath);
      // A key refused by propertyNames (e.g. a simulator option it does not have) is reported as an unknown field.
      const badKey = e.propertyName;
      const field = e.keyword === 'required' ? [...path, String(e.params.missingProperty)] : e.keyword === 'additionalProperties' ? [...path, String(e.params.additionalProperty)] : badKey !== undefined ? [...path, badKey] : path;
      const at = src.locate(field);
      const unknownKey = badKey ?? (e.keyword === 'additionalProperties' ? String(e.params.additionalProperty) : undefined);
      const allowed = e.keyword === 'enum' ? `${badKey !== undefined ? ': one of ' : ': '}${(e.params.allowedValues as unknown[]).join(', ')}` : '';
      const what = `${unknownKey !== undefined ? `unknown field ("${unknownKey}")` : e.message}${allowed}`;
      error(src.file, `${e.instancePath ? `${e.instancePath.slice(1).replace(/\//g, '.')}: ` : ''}${what}`, {
        field: field.join('.') || undefined, line: at.line, column: at.column,
        hint: e.keyword === 'additionalProperties' ? 'remove or rename the field; see the schema named in $schema for what is allowed' : `see schemas/config/${kind}.schema.json`,
      });
    }
    return false;
  };

  const readYaml = (file: string): SourceFile | undefined => {
    const src = parseSource(rel(file), readFileSync(file, 'utf8'));
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
  const definitions = new Map<string, MappingDefinition>();
  const suites: MappingTestSuite[] = [];
  for (const file of yamlFiles) {
    const src = readYaml(file);
    if (!src) continue;
    if (isCodeTableFile(relative(mappingRoot, file))) {
      const { table, issues: found } = loadCodeTable(src);
      issues.push(...found);
      if (table) {
        if (codeTables.has(table.name)) error(file, `code table "${table.name}" is defined twice (also in ${codeTables.get(table.name)!.file})`, { field: 'name', line: src.locate(['name']).line, hint: 'code table names are global: rename one' });
        else codeTables.set(table.name, { ...table, file: rel(file) });
      }
    } else if (/\.test\.ya?ml$/.test(file)) {
      const { suite, issues: found } = loadMappingTests({ ...src, file, value: resolveEnv(src) });
      issues.push(...found.map((i) => ({ ...i, file: rel(i.file) })));
      if (suite) suites.push(suite);
    } else {
      const id = relative(mappingRoot, file).split(sep).join('/').replace(/\.ya?ml$/, '');
      const { mapping, issues: found } = loadMapping({ ...src, value: resolveEnv(src) }, id);
      issues.push(...found);
      if (mapping) definitions.set(id, mapping);
    }
  }
  const mappingEnv = { schemas, codeTables };
  const mappings = new Map<string, CompiledMapping>();
  for (const def of definitions.values()) {
    for (const side of ['source', 'target'] as const) {
      if (!schemas.byName(def[side])) {
        const at = def.locate([side]);
        error(def.file, `${side} schema "${def[side]}" does not exist`, { field: side, line: at.line, column: at.column, hint: `create schemas/${def[side]}.json, or: ${suggestion(def[side], schemas.names(), 'schemas')}` });
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
    if (!tested.has(def.id)) issues.push({ file: def.file, message: `mapping ${def.id} has no golden tests`, hint: `add ${basename(def.file).replace(/\.ya?ml$/, '.test.yaml')} beside it with at least one passing and one failing case`, severity: 'warning' });
  }
  for (const suite of suites) {
    const id = relative(mappingRoot, suite.mappingFile).split(sep).join('/').replace(/\.ya?ml$/, '');
    if (!definitions.has(id)) error(suite.file, `tests refer to mapping file ${rel(suite.mappingFile)}, which does not exist or failed to load`, { field: 'mapping', hint: 'point `mapping:` at a mapping file beside this test file' });
  }

  // 3. Connectors.
  const connectors = new Map<string, ConnectorConfig>();
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
    checkConnector(connector, src, { schemas, definitions, error: (m, extra) => error(file, m, extra) });
    checkConnectorWsSecurity(connector, undefined, src, (m, extra) => error(file, m, extra));
    checkConnectorChecksums(connector, src, { error: (m, extra) => error(file, m, extra), warn: (m, extra) => issues.push({ file: rel(file), message: m, severity: 'warning', ...extra }) });
    connectors.set(id, connector);
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
        if (!from) error(hubFile, `route ${route.id}: "${route.from}" is not a known connector operation`, { ...at('from'), hint: `one of: ${operationRefs(connectors, 'inbound').join(', ') || '(no inbound operations defined)'}` });
        else if (from.operation.direction !== 'inbound') error(hubFile, `route ${route.id}: "${route.from}" is an outbound operation; a route starts at an inbound one`, { ...at('from'), hint: 'set direction: inbound on that operation or pick another' });
        if (route.mode === 'sync' && route.destinations.length !== 1) error(hubFile, `route ${route.id}: a sync route has exactly one destination`, { ...at('to'), hint: 'use mode: async to fan out to several destinations' });
        route.destinations.forEach((destination, d) => {
          const where = Array.isArray((value as { routes: Array<{ to: unknown }> }).routes[index]?.to) ? ['to', d] : ['to'];
          if (isService(destination.to)) return; // another hub's service: checkRouteTrust finds the hub that serves it
          const to = findOperation({ connectors }, destination.to);
          if (!to) {
            error(hubFile, `route ${route.id}: "${destination.to}" is not a known connector operation`, { ...at(...where), hint: `one of: ${operationRefs(connectors, 'outbound').join(', ') || '(no outbound operations defined)'}` });
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
            const { test, issues: found } = compileCondition(destination.when, { file: 'config/hub.yaml', locate: src.locate, path: ['routes', index, 'to', d, 'when'], source: `canonical/${from.operation.canonical.request}` }, codeTables, schemas);
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
            if (!schemaHasPath(schemas, canonical, path)) error(from.connector.file, `operation ${from.operation.id}: idempotency key field "${path}" is not a field of ${from.operation.canonical.request}`, { field: `operations.${from.operation.id}.idempotencyKey[${k}]`, hint: 'name fields of the canonical type, e.g. [dossierCode, status, at]' });
          }
        }
        if (route.mode === 'sync') route.orderingKey = '';
        checkRouteTrust(route, index, trustContext);
        if (routes.has(route.from)) error(hubFile, `two routes start at ${route.from}`, { ...at('from'), hint: 'one inbound operation feeds one route; list several destinations in its `to`' });
        else routes.set(route.from, route);
      });
      // Retry policies: defaults < hub delivery.retry < connector < operation; unbounded or nonsensical ones are errors.
      const hubRetry = hub.delivery.retry;
      for (const problem of hubRetry ? checkPolicy(hubRetry) : []) error(hubFile, `delivery.retry: ${problem}`, { field: 'delivery.retry', line: src.locate(['delivery', 'retry']).line });
      for (const connector of connectors.values()) {
        for (const problem of connector.retry ? checkPolicy(connector.retry) : []) error(connector.file, `retry: ${problem}`, { field: 'retry' });
        for (const op of Object.values(connector.operations)) {
          if (op.direction !== 'outbound') continue;
          for (const problem of op.retry ? checkPolicy(op.retry) : []) error(connector.file, `operations.${op.id}.retry: ${problem}`, { field: `operations.${op.id}.retry` });
          try {
            op.retryPolicy = resolvePolicy(hubRetry, connector.retry, op.retry);
          } catch (e) {
            error(connector.file, `operations.${op.id}: retry policy: ${(e as Error).message}`, { field: `operations.${op.id}.retry` });
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
  if (errors.length || !hub) return { issues };
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

/** Loads or throws a ConfigError listing every problem: for commands that must not start on a broken config. */
export function loadRegistryOrThrow(root: string, options: LoadOptions = {}): { registry: Registry; warnings: ConfigIssue[] } {
  const { registry, issues } = loadRegistry(root, options);
  if (!registry) throw new ConfigError(issues);
  return { registry, warnings: issues };
}

interface CheckContext {
  schemas: SchemaSet;
  definitions: ReadonlyMap<string, MappingDefinition>;
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
    if (op.direction === 'outbound' && !connector.baseUrl) ctx.error(`operation ${op.id} is outbound but the connector has no baseUrl`, { ...at('direction'), hint: 'add baseUrl: ${SYSTEM_URL} to the connector' });
    // Paths the hub reads from the peer's answer: misspelled, every lookup would be "not found", or every delivery judged a failure.
    const answerSchema = op.response?.schema;
    const answerPaths: Array<[string[], string | undefined]> = [[['notFound', 'missing'], op.notFound?.missing], [['result', 'codeField'], op.result?.codeField], [['result', 'messageField'], op.result?.messageField]];
    for (const [field, path] of answerPaths) {
      if (path === undefined || !answerSchema || !ctx.schemas.byName(answerSchema) || schemaHasPath(ctx.schemas, answerSchema, path)) continue;
      ctx.error(`operation ${op.id}: ${field.join('.')} "${path}" is not a field of the answer (${answerSchema})`, { ...at(...field), hint: 'name a field of the response schema (a dotted path)' });
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
      if (!ctx.schemas.byName(canonical)) ctx.error(`canonical type ${canonicalName} does not exist`, { ...at('canonical', kind), hint: `create schemas/${canonical}.json, or: ${suggestion(canonical, ctx.schemas.names().filter((n) => n.startsWith('canonical/')), 'canonical types')}` });
      if (!ctx.schemas.byName(message.schema)) ctx.error(`schema "${message.schema}" does not exist`, { ...at(kind, 'schema'), hint: `create schemas/${message.schema}.json (ids are paths under schemas/ without .json)` });
      const def = ctx.definitions.get(message.mapping);
      if (!def) {
        ctx.error(`mapping "${message.mapping}" does not exist or did not load`, { ...at(kind, 'mapping'), hint: `create mappings/${message.mapping}.yaml (ids are paths under mappings/ without .yaml)` });
        continue;
      }
      // Inbound requests and outbound responses come from the system (native → canonical); the rest go to it.
      const intoCanonical = (op.direction === 'inbound') === (kind === 'request');
      const [source, target] = intoCanonical ? [message.schema, canonical] : [canonical, message.schema];
      if (def.source !== source || def.target !== target) {
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

/** A failed oneOf reports every branch's complaint; keep the oneOf itself and drop the branches' noise. */
function withoutBranchNoise(errors: NonNullable<ValidateFunction['errors']>): NonNullable<ValidateFunction['errors']> {
  const oneOfAt = errors.filter((e) => e.keyword === 'oneOf').map((e) => e.schemaPath.replace(/\/oneOf$/, '/oneOf/'));
  // "must match then schema" and "property name must be valid" only wrap the error that says what is wrong.
  return errors.filter((e) => e.keyword !== 'if' && e.keyword !== 'propertyNames' && (e.keyword === 'oneOf' || !oneOfAt.some((prefix) => e.schemaPath.startsWith(prefix))));
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

/** Whether a dotted path names a property of a schema (following $ref and allOf). */
function schemaHasPath(schemas: SchemaSet, name: string, path: string): boolean {
  const start = schemas.byName(name);
  if (!start) return false;
  let nodes: Array<{ schema: JsonSchema; baseId: string }> = [start];
  for (const key of path.split('.')) {
    const next: Array<{ schema: JsonSchema; baseId: string }> = [];
    const visit = (node: { schema: JsonSchema; baseId: string }, depth: number): void => {
      if (depth > 16) return;
      const { schema, baseId } = node;
      if (typeof schema.$ref === 'string') {
        const target = schemas.resolveRef(baseId, schema.$ref);
        if (target) visit(target, depth + 1);
      }
      for (const part of (schema.allOf as JsonSchema[] | undefined) ?? []) visit({ schema: part, baseId }, depth + 1);
      const properties = schema.properties as Record<string, JsonSchema> | undefined;
      if (properties && Object.hasOwn(properties, key)) next.push({ schema: properties[key]!, baseId });
    };
    for (const node of nodes) visit(node, 0);
    if (next.length === 0) return false;
    nodes = next;
  }
  return true;
}

function operationRefs(connectors: ReadonlyMap<string, ConnectorConfig>, direction: 'inbound' | 'outbound'): string[] {
  return [...connectors.values()].flatMap((c) => Object.values(c.operations).filter((o) => o.direction === direction).map((o) => `${c.id}.${o.id}`));
}

/** A code table lives in a `codes` folder under mappings/ (`file` is relative to mappings/: the root's own path may hold one too). */
function isCodeTableFile(file: string): boolean {
  return file.split(sep).includes('codes');
}

function nameOf(schema: JsonSchema): string {
  const id = String(schema.$id);
  return id.slice('https://lienthong.invalid/schemas/'.length, -'.json'.length);
}

function pointerToPath(pointer: string): string[] {
  return pointer.split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
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
