import type { Authenticator, HeaderAuthConfig } from './types.js';

/** Static credential headers. A 401 cannot be cured by retrying, so it is reported as an auth failure. */
export function headerAuth(config: HeaderAuthConfig): Authenticator {
  const headers = Object.fromEntries(Object.entries(config.headers).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    scheme: 'header',
    renewable: false,
    apply: async (req) => {
      Object.assign(req.headers, headers);
      return 0;
    },
    rejects: (res) => res.status === 401,
    invalidate: () => {},
  };
}
