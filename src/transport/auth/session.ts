import { HubError } from '../../core/errors.js';
import { exchange, joinUrl, type PeerResponse } from '../http.js';
import { authEndpointFailed, authFailed, CredentialCache, parseJsonObject } from './shared.js';
import type { AuthContext, Authenticator, SessionAuthConfig } from './types.js';

/** DVCQG-style session login; the session travels inside each JSON body. */
export function sessionAuth(config: SessionAuthConfig, ctx: AuthContext): Authenticator {
  const url = joinUrl(ctx.baseUrl, config.loginPath);
  const field = config.sessionField ?? 'session';
  const credentials = JSON.stringify({ username: config.username, password: config.password });
  const invalidCodes = new Set((config.invalidWhen?.errorCodes ?? []).map(String));

  const sessions = new CredentialCache(async () => {
    const res = await exchange(ctx.dispatcher, {
      peer: ctx.peer,
      url,
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', accept: 'application/json' },
      body: credentials,
      requestMs: ctx.requestMs,
      maxResponseBytes: ctx.maxResponseBytes,
    });
    if (res.status < 200 || res.status > 299) throw authEndpointFailed(ctx.peer, res.status, 'login');
    const answer = parseJsonObject(res.body);
    const session = answer?.session;
    const code = answer?.error_code;
    if (code !== undefined && Number(code) !== 0) throw authFailed(ctx.peer, 'login answered a non-zero error_code', 'login-refused');
    if (typeof session !== 'string' || session === '') throw authFailed(ctx.peer, 'login answer has no session', 'login-malformed');
    return { value: session, lifetimeMs: (config.ttlSeconds ?? 1500) * 1000 };
  }, ctx.now);

  const saysSessionInvalid = (res: PeerResponse) => {
    if (invalidCodes.size === 0 || res.body.length === 0 || res.body.length > 1_000_000) return false;
    const code = parseJsonObject(res.body)?.error_code;
    return code !== undefined && code !== null && invalidCodes.has(String(code));
  };

  return {
    scheme: 'session',
    renewable: true,
    apply: async (req) => {
      if (!req.json) {
        throw new HubError('transport.invalid-request', `Yêu cầu tới ${ctx.peer} phải là JSON / session auth needs a JSON body`, {
          status: 500,
          detail: [{ reason: 'session auth puts the session into the JSON body; send `json`, not `body`', code: 'session-needs-json' }],
        });
      }
      const { value, ref } = await sessions.get();
      req.json[field] = value;
      return ref;
    },
    rejects: (res) => res.status === 401 || saysSessionInvalid(res),
    invalidate: (ref) => sessions.invalidate(ref),
  };
}
