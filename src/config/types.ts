/** The shapes of the config files, as their JSON Schemas in schemas/config/ define them. */
import type { RetryPolicy, RetryPolicyConfig } from '../delivery/retry.js';
import type { AuthConfig } from '../transport/index.js';

export interface HubConfig {
  hub: { id: string; name: string };
  server: ServerConfig;
  routes: RouteConfig[];
  /** This hub's key and the certificates it trusts; absent: no signatures, no mTLS. File paths are absolute. */
  trust?: TrustConfig;
  access: AccessConfig;
  federation: { hubs: FederatedHub[] };
  delivery: { concurrency: number; leaseMs: number; pollIntervalMs: number; idempotencyTtlMs: number; retry?: RetryPolicyConfig };
  store: { dataDir: string; payloadRetentionMs: number; metadataRetentionMs: number };
  /** `options`: the simulator's own settings (names checked per simulator by hub.schema.json). */
  demo?: { simulators?: Array<{ name: 'population' | 'dvcqg' | 'emc' | 'payment' | 'onegate'; port?: number; env?: string; options?: Record<string, string | number | boolean> }> };
}

export interface ServerConfig {
  host: string;
  port: number;
  bodyLimitBytes: number;
  xmlBodyLimitBytes: number;
  requestTimeoutMs: number;
  docs: boolean;
  logLevel: string;
  /** HTTPS with mutual TLS; key and certificate default to trust's. Paths are absolute. */
  tls?: { keyFile: string; certificateFile: string; clientCertificates: 'required' | 'optional' };
  /** Plain HTTP behind a TLS-terminating proxy that passes the verified caller's participant. */
  trustedProxy?: { addresses: string[]; participantHeader: string };
  requireClientIdentity: boolean;
}

export interface TrustConfig {
  keyFile: string;
  keyPassphrase?: string;
  certificateFile: string;
  anchorFiles: string[];
  intermediateFiles: string[];
  crlFiles: string[];
  pinnedFiles: string[];
  replayWindowMs: number;
}

export interface AccessConfig {
  groups: Record<string, string[]>;
  grants: Array<{ service: string; to: { participant: string } | { group: string }; operations?: string[] }>;
}

/** Another hub, serving the services of some participants. */
export interface FederatedHub {
  id: string;
  url: string;
  /** Pinned certificate (absolute path), when it does not chain to trust.anchors. */
  certificateFile?: string;
  /** Participant patterns; `*` matches one whole part. */
  participants: string[];
  timeouts: { connectMs: number; requestMs: number };
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
  /** "<connector>.<operation>", or the service id of a service a federated hub serves. */
  to: string;
  /** Set when `to` is a federated hub's service. */
  remote?: { hub: string; service: string };
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
  /** When the peer's answer means "no such record" (404 client.not-found for the caller): any of these. */
  notFound?: {
    /** A dotted path in the native answer whose absence (or emptiness) means not found. */
    missing?: string;
    /** HTTP statuses of the answer that mean not found (e.g. 404), before it is read. */
    status?: number[];
    /** Codes at result.codeField that mean not found, judged before result's verdict. */
    codes?: Array<string | number>;
  };
  idempotencyKey?: string[];
  /** Service code under the connector's participant (default: the operation id); access rights name it. */
  service?: string;
  /** Message-level checksums (payment platforms): computed on what the hub sends, verified on what it receives. */
  checksum?: { request?: ChecksumSetting; response?: ChecksumSetting };
  headers?: Record<string, string>;
  result?: { codeField: string; messageField?: string; success: Array<string | number>; retryable?: Array<string | number>; resendWith?: Array<{ codes: Array<string | number>; messageContains?: string; set: Record<string, string | number | boolean> }> };
  retry?: RetryPolicyConfig;
  /** Resolved at load: defaults < hub delivery.retry < connector < operation. */
  retryPolicy?: RetryPolicy;
}

/** A checksum preset or a scheme written out (see trust/checksum.ts), and its secret. */
export interface ChecksumSetting {
  preset?: string;
  field?: string;
  algorithm?: string;
  encoding?: string;
  separator?: string;
  parts?: unknown[];
  missing?: string;
  secret: string;
}

export interface ConnectorConfig {
  id: string;
  file: string;
  name: string;
  participant: string;
  transport: 'rest-json' | 'soap';
  soap?: { version: '1.1' | '1.2'; namespace: string; prefix: string; qualifyChildren: boolean };
  /** WS-Security with this SOAP peer: sign what the hub sends, verify what it receives against the pinned certificate (absolute path). */
  wsSecurity?: { peerCertificateFile: string; sign: boolean; requireSigned: boolean; timestampTtlSeconds: number; maxTimestampLifetimeSeconds: number };
  baseUrl?: string;
  auth: AuthConfig;
  timeouts: { connectMs: number; requestMs: number };
  retry?: RetryPolicyConfig;
  operations: Readonly<Record<string, OperationConfig>>;
}
