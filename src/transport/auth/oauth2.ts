import { exchange, joinUrl } from '../http.js';
import { authEndpointFailed, authEndpointUnreachable, authFailed, CredentialCache, parseJsonObject } from './shared.js';
import type { AuthContext, Authenticator, OAuth2AuthConfig } from './types.js';

/** RFC 6749 §2.3.1: client id and secret are form-encoded before they go into HTTP Basic. */
const formEncode = (s: string) => new URLSearchParams([['', s]]).toString().slice(1);

export function oauth2Auth(config: OAuth2AuthConfig, ctx: AuthContext): Authenticator {
  const url = joinUrl(ctx.baseUrl, config.tokenUrl);
  const basic = Buffer.from(`${formEncode(config.clientId)}:${formEncode(config.clientSecret)}`).toString('base64');
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (config.scope) form.set('scope', config.scope);
  if (config.audience) form.set('audience', config.audience);
  const body = form.toString();
  const skewMs = (config.skewSeconds ?? 30) * 1000;

  const tokens = new CredentialCache(async () => {
    const res = await exchange(ctx.dispatcher, {
      peer: ctx.peer,
      url,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', authorization: `Basic ${basic}` },
      body,
      requestMs: ctx.requestMs,
      maxResponseBytes: ctx.maxResponseBytes,
    }).catch((error: unknown) => {
      // The token endpoint is often another host (an LGSP's WSO2): its being down is not the peer's.
      throw authEndpointUnreachable(ctx.peer, 'token', error);
    });
    if (res.status < 200 || res.status > 299) throw authEndpointFailed(ctx.peer, res.status, 'token');
    const answer = parseJsonObject(res.body);
    const token = answer?.access_token;
    if (typeof token !== 'string' || token === '') throw authFailed(ctx.peer, 'token endpoint answer has no access_token', 'token-malformed');
    const expiresIn = Number(answer?.expires_in ?? 300);
    const lifetimeMs = Number.isFinite(expiresIn) && expiresIn > 0 ? Math.max(expiresIn * 1000 - skewMs, (expiresIn * 1000) / 2) : 0;
    return { value: `Bearer ${token}`, lifetimeMs };
  }, ctx.now);

  return {
    scheme: 'oauth2',
    renewable: true,
    apply: async (req) => {
      const { value, ref } = await tokens.get();
      req.headers.authorization = value;
      return ref;
    },
    rejects: (res) => res.status === 401,
    invalidate: (ref) => tokens.invalidate(ref),
  };
}
