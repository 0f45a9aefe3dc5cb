import { HubError } from '../../core/errors.js';
import { headerAuth } from './header.js';
import { noAuth } from './none.js';
import { oauth2Auth } from './oauth2.js';
import { sessionAuth } from './session.js';
import type { AuthConfig, AuthContext, Authenticator } from './types.js';

export type * from './types.js';

/** Pick the scheme named by `config.scheme`. Called once per peer. */
export function createAuth(config: AuthConfig = { scheme: 'none' }, ctx: AuthContext): Authenticator {
  switch (config.scheme) {
    case 'none':
      return noAuth();
    case 'header':
      return headerAuth(config);
    case 'oauth2':
      return oauth2Auth(config, ctx);
    case 'session':
      return sessionAuth(config, ctx);
    default:
      throw new HubError('server.config', `Kiểu xác thực không hỗ trợ / unsupported auth scheme for ${ctx.peer}`, {
        status: 500,
        detail: [{ field: 'auth.scheme', reason: 'use none, header, oauth2 or session', code: 'unknown-auth-scheme' }],
      });
  }
}
