import { adminClient, formatTime, toEpoch, withLocalTimes } from './admin-client.js';

/** `lienthong log [filters]` and `lienthong log show <messageId>`: the message log of a running hub. */
interface Row { id: string; receivedAt: number; state: string; messageType: string; routeId?: string; dossierCode?: string; participant: string; correlationId: string }

export async function logSearch(options: { root?: string; url?: string; dossier?: string; correlation?: string; participant?: string; type?: string; state?: string; from?: string; to?: string; limit?: string; cursor?: string; json?: boolean }): Promise<number> {
  // Times first: one the CLI cannot read is refused before the hub is asked anything.
  const from = toEpoch(options.from, '--from');
  const to = toEpoch(options.to, '--to');
  const page = (await adminClient(options).get('/admin/messages', {
    dossierCode: options.dossier, correlationId: options.correlation, participant: options.participant, messageType: options.type, state: options.state,
    from, to, limit: options.limit, cursor: options.cursor,
  })) as { items: Row[]; next?: string };
  if (options.json) console.log(JSON.stringify(page, null, 2));
  else {
    for (const m of page.items) console.log(`${formatTime(m.receivedAt)}  ${m.id}  ${m.state.padEnd(19)} ${m.messageType}  ${m.dossierCode ?? '-'}  ${m.routeId ?? '-'}  ${m.participant}`);
    if (page.items.length === 0) console.log('no messages match');
    if (page.next) console.log(`more: --cursor ${page.next}`);
  }
  return 0;
}

export async function logShow(id: string, options: { root?: string; url?: string; json?: boolean }): Promise<number> {
  const history = (await adminClient(options).get(`/admin/messages/${encodeURIComponent(id)}`)) as { message: Row; events: Array<Record<string, unknown>> };
  if (options.json) {
    console.log(JSON.stringify(history, null, 2));
    return 0;
  }
  console.log(JSON.stringify(withLocalTimes(history.message), null, 2));
  for (const e of history.events) {
    const extra = ['destination', 'attempt', 'succeeded', 'httpStatus', 'durationMs', 'errorType', 'reason', 'actor'].filter((k) => e[k] !== undefined && e[k] !== null).map((k) => `${k}=${String(e[k])}`).join(' ');
    console.log(`${formatTime(e.at as number)}  ${String(e.kind).padEnd(16)} ${extra}`);
  }
  return 0;
}
