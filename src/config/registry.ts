import type { ValidateFunction } from 'ajv/dist/2020.js';
import type { CodeTable, CompiledMapping, MappingTestSuite } from '../mapping/index.js';
import type { SchemaSet } from '../schema/set.js';
import type { ConnectorConfig, HubConfig, OperationConfig, RouteConfig } from './types.js';

/**
 * Everything one hub knows, prepared once at start and never changed afterwards: config, compiled
 * validators, compiled mappings. Frozen so that no request can alter another's world.
 */
export interface Registry {
  readonly root: string;
  readonly hub: HubConfig;
  readonly connectors: ReadonlyMap<string, ConnectorConfig>;
  readonly schemas: SchemaSet;
  /** Compiled validators by schema short name, e.g. "canonical/CitizenRecord". */
  readonly validators: ReadonlyMap<string, ValidateFunction>;
  readonly mappings: ReadonlyMap<string, CompiledMapping>;
  readonly codeTables: ReadonlyMap<string, CodeTable>;
  /** Routes by their inbound end, "<connector>.<operation>". */
  readonly routes: ReadonlyMap<string, RouteConfig>;
  readonly mappingTests: readonly MappingTestSuite[];
}

export interface OperationRef {
  connector: ConnectorConfig;
  operation: OperationConfig;
}

/** Resolves "<connector>.<operation>"; undefined when either part is unknown. */
export function findOperation(registry: Pick<Registry, 'connectors'>, ref: string): OperationRef | undefined {
  const dot = ref.indexOf('.');
  const connector = registry.connectors.get(ref.slice(0, dot));
  const operation = connector && Object.hasOwn(connector.operations, ref.slice(dot + 1)) ? connector.operations[ref.slice(dot + 1)] : undefined;
  return connector && operation ? { connector, operation } : undefined;
}

/** The service id of a connector's operation, as access rights and other hubs name it: <participant>/<service code>. */
export function serviceOf(connector: ConnectorConfig, operation: OperationConfig): string {
  return `${connector.participant}/${operation.service ?? operation.id}`;
}

/** The local connector operation behind a service id, if this hub has one. */
export function findService(registry: Pick<Registry, 'connectors'>, service: string): OperationRef | undefined {
  for (const connector of registry.connectors.values()) {
    if (!service.startsWith(`${connector.participant}/`)) continue;
    for (const operation of Object.values(connector.operations)) {
      if (operation.direction === 'outbound' && serviceOf(connector, operation) === service) return { connector, operation };
    }
  }
  return undefined;
}
