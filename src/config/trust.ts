import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { ConfigIssue } from '../core/issues.js';
import { isHubError } from '../core/errors.js';
import type { SourceFile } from '../core/yaml.js';
import { parseDuration } from '../delivery/retry.js';
import { createAccessRights } from '../trust/access.js';
import { CHECKSUM_PRESETS, checkChecksumConfig, checksumSettingConfig } from '../trust/checksum.js';
import { isParticipant, isService } from '../trust/identity.js';
import { participantOf, splitPemCertificates } from '../trust/pki.js';
import { loadTrustStore } from '../trust/trust-store.js';
import { findOperation, serviceOf } from './registry.js';
import type { AccessConfig, ConnectorConfig, FederatedHub, HubConfig, RouteConfig, ServerConfig, TrustConfig } from './types.js';

/**
 * The trust side of config/hub.yaml: this hub's key and certificates, what it trusts, mTLS or a trusted
 * proxy, access rights, and the other hubs it federates with. Everything that can be checked before the
 * first message is checked here, so that `lienthong check` reports a missing key file, a certificate of
 * the wrong participant or a route to a service nobody serves, with the file and line.
 */
type Report = (message: string, extra?: Partial<ConfigIssue>) => void;

export function normaliseTrustSections(value: Record<string, unknown>, root: string): Pick<HubConfig, 'trust' | 'access' | 'federation'> & { server: Pick<ServerConfig, 'tls' | 'trustedProxy' | 'requireClientIdentity'> } {
  const path = (file: string) => (isAbsolute(file) ? file : join(root, file));
  const trust = value.trust as Record<string, unknown> | undefined;
  const server = (value.server ?? {}) as Record<string, unknown>;
  const tls = server.tls as Record<string, unknown> | undefined;
  const proxy = server.trustedProxy as Record<string, unknown> | undefined;
  const access = (value.access ?? {}) as Partial<AccessConfig>;
  const federation = (value.federation ?? {}) as { hubs?: Array<Record<string, unknown>> };
  const files = (list: unknown) => ((list as string[] | undefined) ?? []).map(path);
  const normalisedTrust: TrustConfig | undefined = trust && {
    keyFile: path(trust.key as string),
    keyPassphrase: trust.keyPassphrase as string | undefined,
    certificateFile: path(trust.certificate as string),
    anchorFiles: files(trust.anchors),
    intermediateFiles: files(trust.intermediates),
    crlFiles: files(trust.crls),
    pinnedFiles: files(trust.pinned),
    replayWindowMs: parseDuration((trust.replayWindow as string | number | undefined) ?? '5m'),
  };
  return {
    trust: normalisedTrust,
    access: { groups: access.groups ?? {}, grants: access.grants ?? [] },
    federation: {
      hubs: (federation.hubs ?? []).map((h): FederatedHub => {
        const timeouts = (h.timeouts ?? {}) as Record<string, number>;
        return {
          id: h.id as string, url: (h.url as string).replace(/\/+$/, ''), participants: h.participants as string[],
          certificateFile: h.certificate ? path(h.certificate as string) : undefined,
          timeouts: { connectMs: timeouts.connectMs ?? 3000, requestMs: timeouts.requestMs ?? 10000 },
        };
      }),
    },
    server: {
      tls: tls && {
        keyFile: path((tls.key as string | undefined) ?? (trust?.key as string | undefined) ?? ''),
        certificateFile: path((tls.certificate as string | undefined) ?? (trust?.certificate as string | undefined) ?? ''),
        clientCertificates: (tls.clientCertificates as 'required' | 'optional' | undefined) ?? 'optional',
      },
      trustedProxy: proxy && { addresses: proxy.addresses as string[], participantHeader: (proxy.participantHeader as string | undefined) ?? 'x-client-participant' },
      requireClientIdentity: (server.requireClientIdentity as boolean | undefined) ?? false,
    },
  };
}

/** Does `pattern` (parts may be `*`) cover this participant? */
function participantMatches(pattern: string, participant: string): boolean {
  const want = pattern.split('/');
  const have = participant.split('/');
  return want.length === have.length && want.every((part, i) => part === '*' || part === have[i]);
}

/** The federated hub that serves `service` (by its provider participant), if any. */
function hubServing(hubs: readonly FederatedHub[], service: string): FederatedHub | undefined {
  const provider = service.split('/').slice(0, 4).join('/');
  return hubs.find((hub) => hub.participants.some((p) => participantMatches(p, provider)));
}

export interface TrustCheckContext {
  hub: HubConfig;
  connectors: ReadonlyMap<string, ConnectorConfig>;
  src: SourceFile;
  error: Report;
  warn: Report;
}

export function checkTrustSections({ hub, connectors, src, error, warn }: TrustCheckContext): void {
  const at = (...field: Array<string | number>) => ({ field: field.join('.'), line: src.locate(field).line });
  const readable = (file: string, field: Array<string | number>): string | undefined => {
    if (!existsSync(file)) {
      error(`file ${file} does not exist`, { ...at(...field), hint: 'create it with `lienthong keys` (ca, issue), or correct the path (relative to the config root)' });
      return undefined;
    }
    return readFileSync(file, 'utf8');
  };

  if (hub.trust) {
    const trust = hub.trust;
    const keyPem = readable(trust.keyFile, ['trust', 'key']);
    if (keyPem !== undefined) {
      try {
        createPrivateKey(trust.keyPassphrase === undefined ? keyPem : { key: keyPem, passphrase: trust.keyPassphrase });
      } catch {
        error('trust.key is not a readable private key (PEM), or its passphrase is wrong', { ...at('trust', 'key'), hint: 'use the .key.pem that `lienthong keys issue` wrote, and trust.keyPassphrase for an encrypted one' });
      }
    }
    const certPem = readable(trust.certificateFile, ['trust', 'certificate']);
    const chain = certPem === undefined ? [] : splitPemCertificates(certPem);
    if (certPem !== undefined && chain.length === 0) error('trust.certificate holds no PEM certificate', at('trust', 'certificate'));
    if (chain[0]) {
      const participant = participantOf(new X509Certificate(chain[0]));
      if (participant !== hub.hub.id) {
        error(`trust.certificate names participant ${participant ?? '(none)'}, but this hub is ${hub.hub.id}`, { ...at('trust', 'certificate'), hint: `issue one with \`lienthong keys issue --usage hub --participant ${hub.hub.id}\`` });
      }
    }
    const lists = [['anchors', trust.anchorFiles], ['intermediates', trust.intermediateFiles], ['crls', trust.crlFiles], ['pinned', trust.pinnedFiles]] as const;
    const present = lists.every(([name, list]) => list.every((file, i) => readable(file, ['trust', name, i]) !== undefined));
    if (present) {
      try {
        const store = loadTrustStore({ anchors: trust.anchorFiles, intermediates: trust.intermediateFiles, crls: trust.crlFiles, pinned: trust.pinnedFiles });
        if (chain[0]) {
          const verdict = store.validate(new X509Certificate(chain[0]), chain.slice(1).map((pem) => new X509Certificate(pem)), new Date(), 'signing');
          if (!verdict.ok) warn(`this hub's own certificate does not validate against its trust store (${verdict.code}: ${verdict.reason}); peers with the same anchors will refuse its signatures`, at('trust', 'certificate'));
        }
      } catch (e) {
        error(`trust store: ${(e as Error).message}`, at('trust'));
      }
    }
  }

  const { server } = hub;
  if (server.tls) {
    if (!hub.trust && (!server.tls.keyFile || !server.tls.certificateFile)) error('server.tls needs a key and a certificate: give them here or in trust:', at('server', 'tls'));
    if (!hub.trust) error('server.tls checks client certificates against trust.anchors: add a trust: section', { ...at('server', 'tls'), hint: 'trust: { key, certificate, anchors: [ca.crt.pem] }' });
    readable(server.tls.keyFile, ['server', 'tls', 'key']);
    readable(server.tls.certificateFile, ['server', 'tls', 'certificate']);
  }
  if (server.tls && server.trustedProxy) error('server.tls and server.trustedProxy exclude each other: either the hub terminates TLS, or a proxy does', at('server', 'trustedProxy'));

  hub.federation.hubs.forEach((other, i) => {
    if (!hub.trust) error('federation needs trust: (this hub signs every message to another hub and checks every answer)', at('federation', 'hubs', i));
    if (other.id === hub.hub.id) error(`federation.hubs[${i}] is this hub itself`, at('federation', 'hubs', i, 'id'));
    if (other.certificateFile) {
      const pem = readable(other.certificateFile, ['federation', 'hubs', i, 'certificate']);
      const first = pem && splitPemCertificates(pem)[0];
      if (pem !== undefined && !first) error(`federation.hubs[${i}].certificate holds no PEM certificate`, at('federation', 'hubs', i, 'certificate'));
      else if (first && participantOf(new X509Certificate(first)) !== other.id) error(`federation.hubs[${i}].certificate does not name ${other.id}`, at('federation', 'hubs', i, 'certificate'));
    }
  });

  // Access rights: every identifier valid, groups defined (the access room reports each problem).
  try {
    createAccessRights(hub.access);
  } catch (e) {
    if (!isHubError(e)) throw e;
    for (const d of e.detail.length ? e.detail : [{ reason: e.message }]) error(`access: ${d.field ? `${d.field}: ` : ''}${d.reason}`, at('access', ...(d.field ? d.field.split('.').flatMap((p) => p.split(/\[(\d+)\]/).filter(Boolean)) : [])));
  }
}

/**
 * A route destination that is a service id must be served by a federated hub; a local one is a
 * connector operation. Also warns about routes whose source has no grant for a destination: unless the
 * grant was made through the admin API, every message of the route would be refused (403), whatever its
 * destination, since the hub checks every destination before it accepts a message.
 */
export function checkRouteTrust(route: RouteConfig, index: number, ctx: TrustCheckContext): void {
  const { hub, connectors, src, error, warn } = ctx;
  const at = (d: number) => ({ field: `routes[${index}].to`, line: src.locate(['routes', index, 'to', d]).line ?? src.locate(['routes', index, 'to']).line });
  const from = findOperation({ connectors }, route.from);
  const rights = safeAccessRights(hub.access);
  route.destinations.forEach((destination, d) => {
    let service: string;
    let operation: string | undefined;
    if (isService(destination.to)) {
      const serving = hubServing(hub.federation.hubs, destination.to);
      if (!serving) {
        error(`route ${route.id}: no federated hub serves ${destination.to}`, { ...at(d), hint: 'add the hub that serves its participant under federation.hubs (id, url, participants), or route to a local connector operation' });
        return;
      }
      destination.remote = { hub: serving.id, service: destination.to };
      service = destination.to;
    } else {
      const to = findOperation({ connectors }, destination.to);
      if (!to) return; // reported by the route checks
      service = serviceOf(to.connector, to.operation);
      operation = to.operation.id;
    }
    if (from && rights && isParticipant(from.connector.participant) && !rights.check(from.connector.participant, service, operation).allowed) {
      // A warning, not an error: a grant may also come through the admin API (POST /admin/access/grants), which the
      // message log records and the hub restores at every start (src/server/hub.ts), so config need not hold it.
      warn(`route ${route.id}: ${from.connector.participant} (the caller of ${route.from}) has no access grant for ${service} in this file; unless one was granted through the admin API, every message of this route is refused (403), for all its destinations`, {
        ...at(d), hint: `add to access.grants: { service: ${service}, to: { participant: ${from.connector.participant} } } (or grant it with POST /admin/access/grants)`,
      });
    }
  });
}

function safeAccessRights(config: AccessConfig) {
  try {
    return createAccessRights(config);
  } catch {
    return undefined;
  }
}

/** Each operation's checksum settings compile; presets that are not confirmed say so. */
export function checkConnectorChecksums(connector: ConnectorConfig, src: SourceFile, report: { error: Report; warn: Report }): void {
  for (const op of Object.values(connector.operations)) {
    for (const side of ['request', 'response'] as const) {
      const setting = op.checksum?.[side];
      if (!setting) continue;
      const field = ['operations', op.id, 'checksum', side];
      const at = { field: field.join('.'), line: src.locate(field).line };
      for (const problem of checkChecksumConfig(checksumSettingConfig(setting))) report.error(`checksum.${side}: ${problem}`, at);
      const preset = setting.preset ? (CHECKSUM_PRESETS as Record<string, { status: string; note?: string }>)[setting.preset] : undefined;
      if (preset && preset.status !== 'confirmed') report.warn(`checksum.${side}: preset ${setting.preset} is ${preset.status}: ${preset.note ?? 'see src/trust/checksum.ts'}`, at);
    }
  }
}

/** WS-Security needs a SOAP connector, the peer's certificate, and (to sign) this hub's key. */
export function checkConnectorWsSecurity(connector: ConnectorConfig, hub: HubConfig | undefined, src: SourceFile, error: Report): void {
  const ws = connector.wsSecurity;
  if (!ws) return;
  const at = (...field: string[]) => ({ field: field.join('.'), line: src.locate(field).line });
  if (connector.transport !== 'soap') error('wsSecurity is for SOAP connectors (transport: soap)', at('wsSecurity'));
  if (!existsSync(ws.peerCertificateFile)) error(`file ${ws.peerCertificateFile} does not exist`, { ...at('wsSecurity', 'peerCertificate'), hint: "the peer's certificate, PEM, relative to the config root" });
  else if (splitPemCertificates(readFileSync(ws.peerCertificateFile, 'utf8')).length === 0) error('wsSecurity.peerCertificate holds no PEM certificate', at('wsSecurity', 'peerCertificate'));
  if (ws.sign && hub && !hub.trust) error('wsSecurity.sign needs this hub\'s key: add a trust: section to config/hub.yaml (or set sign: false)', at('wsSecurity', 'sign'));
}
