import type { Dispatcher } from 'undici';
import type { PeerResponse } from '../http.js';

export interface NoAuthConfig { scheme: 'none' }

/** Static headers: API keys, Hậu Giang-style `lgspaccesstoken`. */
export interface HeaderAuthConfig { scheme: 'header'; headers: Record<string, string> }

/** OAuth2 client credentials (WSO2-style LGSP token endpoint); client authenticates with HTTP Basic. */
export interface OAuth2AuthConfig {
  scheme: 'oauth2';
  /** Absolute URL, or a path under the peer's baseUrl. */
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  scope?: string;
  audience?: string;
  /** Renew this long before `expires_in` runs out. Default 30. */
  skewSeconds?: number;
}

/** DVCQG-style session login: `{username,password}` → `{session, error_code: 0}`, session sent in each JSON body. */
export interface SessionAuthConfig {
  scheme: 'session';
  /** Absolute URL, or a path under the peer's baseUrl. */
  loginPath: string;
  username: string;
  password: string;
  /** Body field that carries the session. Default `session`. */
  sessionField?: string;
  /** Session lifetime assumed by the hub. Default 1500 s. */
  ttlSeconds?: number;
  /** A JSON answer whose `error_code` is one of these means "session no longer valid". */
  invalidWhen?: { errorCodes: Array<string | number> };
}

export type AuthConfig = NoAuthConfig | HeaderAuthConfig | OAuth2AuthConfig | SessionAuthConfig;

/** A request on its way out, before serialisation: auth may add headers and JSON fields. */
export interface OutgoingRequest {
  headers: Record<string, string>;
  json?: Record<string, unknown>;
}

/** Credential handle returned by `apply`, handed back to `invalidate` so that only a stale credential is dropped. */
export type CredentialRef = number;

/**
 * One peer auth scheme. Created once per peer; holds its cached credential.
 * The peer calls `apply` before each attempt; when `rejects(response)` says the peer refused the credential,
 * it calls `invalidate(ref)` and retries once.
 */
export interface Authenticator {
  readonly scheme: AuthConfig['scheme'];
  apply(req: OutgoingRequest): Promise<CredentialRef>;
  rejects(res: PeerResponse): boolean;
  /** Whether a fresh credential could help (false for static schemes). */
  readonly renewable: boolean;
  invalidate(ref: CredentialRef): void;
}

/** What a scheme needs from its peer to talk to token/login endpoints. */
export interface AuthContext {
  peer: string;
  baseUrl: string;
  dispatcher: Dispatcher;
  requestMs: number;
  maxResponseBytes: number;
  now: () => number;
}
