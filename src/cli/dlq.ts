import { adminClient, formatTime, toEpoch, withLocalTimes } from './admin-client.js';
import { inAcceptanceOrder } from '../delivery/types.js';

/** `lienthong dlq list|show|replay|discard`: the dead-letter queue of a running hub. */
interface DeadRow { id: string; messageId: string; destination: string; orderingKey: string; attempts: number; acceptedAt: number; deadAt: number; reason: string }
interface Filters { destination?: string; route?: string; message?: string; key?: string; since?: string; limit?: string }

const filterQuery = (o: Filters) => ({ destination: o.destination, routeId: o.route, messageId: o.message, orderingKey: o.key, since: toEpoch(o.since, '--since'), limit: o.limit });

export async function dlqList(options: Filters & { root?: string; url?: string; json?: boolean }): Promise<number> {
  const query = filterQuery(options);
  const { items } = (await adminClient(options).get('/admin/dead-letters', query)) as { items: DeadRow[] };
  if (options.json) console.log(JSON.stringify(items, null, 2));
  else if (items.length === 0) console.log('no dead letters');
  else for (const d of items) console.log(`${d.id}  ${formatTime(d.deadAt)}  ${d.destination}  key=${d.orderingKey || '-'}  attempts=${d.attempts}\n    ${d.reason}`);
  return 0;
}

export async function dlqShow(id: string, options: { root?: string; url?: string; json?: boolean }): Promise<number> {
  const dead = (await adminClient(options).get(`/admin/dead-letters/${encodeURIComponent(id)}`)) as Record<string, unknown>;
  // Its own times (deadAt, acceptedAt, …) in local time; the message inside is shown as it was sent.
  console.log(JSON.stringify(options.json ? dead : withLocalTimes(dead), null, 2));
  return 0;
}

/** Dead letters listed per page while collecting a bulk replay's matches, and replayed per call. */
const PAGE = 500;
const CHUNK = 50;

export async function dlqReplay(ids: string[], options: Filters & { root?: string; url?: string; all?: boolean }): Promise<number> {
  // An empty value (an unset shell variable) would otherwise drop its filter and widen a bulk replay to everything.
  const empty = (['destination', 'route', 'message', 'key', 'since', 'limit'] as const).find((name) => options[name] === '');
  if (empty) {
    console.error(`--${empty} is empty: give it a value, or leave the option out`);
    return 2;
  }
  // So would a misread time (20261207 taken as epoch ms is 1970): read before the hub is asked anything; throws a UsageError.
  const query = filterQuery(options);
  const client = adminClient(options);
  let targets = ids;
  if (targets.length === 0) {
    const { limit, ...selecting } = query;
    if (!options.all && !Object.values(selecting).some((v) => v !== undefined)) {
      console.error('name dead-letter ids, or use filters (--destination, --route, --message, --key, --since) or --all');
      return 2;
    }
    // Every match, page by page (not only the first page), unless --limit says how many.
    const cap = limit === undefined ? Infinity : Number(limit);
    const matches: DeadRow[] = [];
    for (let offset = 0; matches.length < cap; offset += PAGE) {
      const asked = Math.min(PAGE, cap - matches.length);
      const { items } = (await client.get('/admin/dead-letters', { ...selecting, limit: asked, offset: offset || undefined })) as { items: DeadRow[] };
      matches.push(...items);
      if (items.length < asked) break;
    }
    // Replayed in acceptance order, across every call: one dossier's events go back in the order they were accepted.
    targets = matches.sort(inAcceptanceOrder).map((d) => d.id);
  }
  let done = 0;
  let replayed = 0;
  const unsealable: string[] = [];
  // Hubs that name the ids they did not know answer `notFound`; older ones only count them (see `unexplained`).
  const notFound: string[] = [];
  const bar = (n: number) => {
    const width = 30;
    const filled = targets.length ? Math.round((n / targets.length) * width) : width;
    process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${n}/${targets.length}`);
  };
  bar(0);
  for (let i = 0; i < targets.length; i += CHUNK) {
    const chunk = targets.slice(i, i + CHUNK);
    const result = (await client.post('/admin/dead-letters/replay', { ids: chunk })) as { replayed: number; unsealable?: string[]; notFound?: string[] };
    replayed += result.replayed;
    unsealable.push(...(result.unsealable ?? []));
    if (Array.isArray(result.notFound)) notFound.push(...result.notFound.map(String));
    done += chunk.length;
    bar(done);
  }
  process.stderr.write('\n');
  console.log(`replayed ${replayed} of ${targets.length}`);
  if (notFound.length) console.log(`${notFound.length} not found: no such dead letter on this hub (a wrong id, or replayed or discarded already): ${notFound.join(', ')}`);
  if (unsealable.length) console.log(`${unsealable.length} left dead: their payload cannot be opened with this hub's data key (LIENTHONG_DATA_KEY): ${unsealable.join(', ')}`);
  const unexplained = targets.length - replayed - notFound.length - unsealable.length;
  if (unexplained > 0) {
    console.log(`${unexplained} not replayed: not dead letters on this hub (a wrong id, or replayed or discarded already or meanwhile); lienthong dlq list shows what is still dead`);
  }
  return replayed === targets.length ? 0 : 1;
}

export async function dlqDiscard(id: string, options: { root?: string; url?: string; reason: string }): Promise<number> {
  await adminClient(options).post(`/admin/dead-letters/${encodeURIComponent(id)}/discard`, { reason: options.reason });
  console.log(`discarded ${id}`);
  return 0;
}
