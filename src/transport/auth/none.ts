import type { Authenticator } from './types.js';

export function noAuth(): Authenticator {
  return {
    scheme: 'none',
    renewable: false,
    apply: async () => 0,
    rejects: () => false,
    invalidate: () => {},
  };
}
