/** The shapes of the config files, as their JSON Schemas in schemas/config/ define them. */
import type { AuthConfig } from '../transport/index.js';

export interface HubConfig {
  hub: { id: string; name: string };
  server: { host: string; port: number; bodyLimitBytes: number; docs: boolean; logLevel: string };
  routes: RouteConfig[];
  demo?: { simulators?: Array<{ name: 'population'; port?: number; env?: string }> };
}

export interface RouteConfig {
  id: string;
  description?: string;
  mode: 'sync';
  from: string;
  to: string;
}

export interface MessageConfig { schema: string; mapping: string }

export interface OperationConfig {
  id: string;
  summary?: string;
  description?: string;
  direction: 'inbound' | 'outbound';
  canonical: { request: string; response?: string };
  request: MessageConfig;
  response?: MessageConfig;
  path?: string;
  soapAction?: string;
  element?: string;
  notFound?: { missing: string };
}

export interface ConnectorConfig {
  id: string;
  file: string;
  name: string;
  participant: string;
  transport: 'rest-json' | 'soap';
  soap?: { version: '1.1' | '1.2'; namespace: string; prefix: string; qualifyChildren: boolean };
  baseUrl?: string;
  auth: AuthConfig;
  timeouts: { connectMs: number; requestMs: number };
  operations: Readonly<Record<string, OperationConfig>>;
}
