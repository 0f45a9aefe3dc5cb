/** The shapes of the config files, as their JSON Schemas in schemas/config/ define them. */
import type { RetryPolicy, RetryPolicyConfig } from '../delivery/retry.js';
import type { AuthConfig } from '../transport/index.js';

export interface HubConfig {
  hub: { id: string; name: string };
  server: { host: string; port: number; bodyLimitBytes: number; docs: boolean; logLevel: string };
  routes: RouteConfig[];
  delivery: { concurrency: number; leaseMs: number; pollIntervalMs: number; idempotencyTtlMs: number; retry?: RetryPolicyConfig };
  store: { dataDir: string; payloadRetentionMs: number; metadataRetentionMs: number };
  demo?: { simulators?: Array<{ name: 'population' | 'dvcqg' | 'emc'; port?: number; env?: string }> };
}

export interface RouteConfig {
  id: string;
  description?: string;
  mode: 'sync' | 'async';
  from: string;
  /** The first (for sync routes: the only) destination. */
  to: string;
  destinations: RouteDestination[];
  /** Async: canonical path whose value orders deliveries per destination; '' = unordered. */
  orderingKey: string;
}

export interface RouteDestination {
  to: string;
  when?: unknown;
  /** Compiled `when`; absent = always. */
  test?: (message: unknown) => boolean;
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
  idempotencyKey?: string[];
  headers?: Record<string, string>;
  result?: { codeField: string; messageField?: string; success: Array<string | number>; retryable?: Array<string | number>; resendWith?: Array<{ codes: Array<string | number>; set: Record<string, string | number | boolean> }> };
  retry?: RetryPolicyConfig;
  /** Resolved at load: defaults < hub delivery.retry < connector < operation. */
  retryPolicy?: RetryPolicy;
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
  retry?: RetryPolicyConfig;
  operations: Readonly<Record<string, OperationConfig>>;
}
