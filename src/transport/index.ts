export { createPeer, type Peer, type PeerConfig, type PeerOptions, type PeerRequest, type PeerResponse } from './peer.js';
export { createDispatcher, type DispatcherOptions } from './dispatcher.js';
export { classify, exchange, joinUrl, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_REQUEST_MS, type Exchange, type HttpMethod } from './http.js';
export { createAuth } from './auth/index.js';
export type {
  AuthConfig, AuthContext, Authenticator, CredentialRef, HeaderAuthConfig, NoAuthConfig, OAuth2AuthConfig, OutgoingRequest, SessionAuthConfig,
} from './auth/types.js';
