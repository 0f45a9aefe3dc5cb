import { rejection, thrown } from '../support/errors.js';
import { describe, expect, it } from 'vitest';
import { createAjv } from '../../src/schema/ajv.js';
import {
  accessRightsConfigSchema,
  createAccessRights,
  type AccessChangeLog,
  type AccessChangeRecord,
  type AccessRightsConfig,
} from '../../src/trust/access.js';

// Fictitious participants.
const MOTCUA = 'VN/GOV/000.00.00.H56/MOTCUA';
const MOTCUA_HUYEN = 'VN/GOV/000.00.14.H56/MOTCUA';
const SOTP = 'VN/GOV/000.00.21.H56/HOTICH';
const PAYGOV = 'VN/COM/0312345678/PAYGOV';
const OUTSIDER = 'VN/GOV/000.00.00.H41/MOTCUA';

// Services: identifiers of this hub's services, and a hub-local route name.
const LOOKUP = 'VN/GOV/000.00.00.H56/LIENTHONG/citizen-lookup';
const SYNC = 'VN/GOV/000.00.00.H56/LIENTHONG/dossier-sync/v1';
const PAYMENT = 'VN/GOV/000.00.00.H56/LIENTHONG/payment-callback';

const CONFIG: AccessRightsConfig = {
  groups: { 'mot-cua': [MOTCUA, MOTCUA_HUYEN] },
  grants: [
    { service: LOOKUP, to: { group: 'mot-cua' } },
    { service: SYNC, to: { participant: MOTCUA }, operations: ['DongBoHoSoMC', 'CapNhatTienDoHoSoMC'] },
    { service: PAYMENT, to: { participant: PAYGOV } },
    { service: 'dossier-status', to: { participant: SOTP } },
  ],
};

/** A change log in memory: what the hub's message log would journal. */
function memoryAccessChangeLog(): AccessChangeLog & { readonly records: readonly AccessChangeRecord[] } {
  const records: AccessChangeRecord[] = [];
  return {
    records,
    async append(record) {
      records.push(structuredClone(record));
    },
  };
}

function fixedClock(start = Date.UTC(2026, 0, 15, 8, 0, 0)) {
  let t = start;
  return () => new Date((t += 1_000));
}

function rightsWithLog(config: AccessRightsConfig = CONFIG) {
  const log = memoryAccessChangeLog();
  return { rights: createAccessRights(config, { changeLog: log, now: fixedClock() }), log };
}

describe('checks: deny by default', () => {
  const rights = createAccessRights(CONFIG);

  it('denies everything when nothing is granted', () => {
    const empty = createAccessRights({});
    expect(empty.check(MOTCUA, LOOKUP)).toMatchObject({ allowed: false, code: 'unknown-client' });
    expect(createAccessRights({ groups: {}, grants: [] }).check(MOTCUA, LOOKUP, 'any')).toMatchObject({ allowed: false });
  });

  it('tells a client the hub does not know from one without a grant', () => {
    expect(rights.check(OUTSIDER, LOOKUP)).toMatchObject({ allowed: false, code: 'unknown-client' });
    expect(rights.check('not an identifier', LOOKUP)).toMatchObject({ allowed: false, code: 'unknown-client' });
    const noGrant = rights.check(PAYGOV, LOOKUP);
    expect(noGrant).toMatchObject({ allowed: false, code: 'no-grant' });
    if (!noGrant.allowed) expect(noGrant.reason).toContain(LOOKUP);
    expect(rights.check(MOTCUA, 'VN/GOV/000.00.00.H56/LIENTHONG/unknown-service')).toMatchObject({ allowed: false, code: 'no-grant' });
  });

  it('allows a participant grant for any operation, and names the grant', () => {
    expect(rights.check(PAYGOV, PAYMENT)).toEqual({ allowed: true, grant: { service: PAYMENT, to: { participant: PAYGOV } } });
    expect(rights.check(PAYGOV, PAYMENT, 'confirm')).toMatchObject({ allowed: true });
  });

  it('allows every member of a group grant, and nobody else', () => {
    expect(rights.check(MOTCUA, LOOKUP)).toEqual({ allowed: true, grant: { service: LOOKUP, to: { group: 'mot-cua' } } });
    expect(rights.check(MOTCUA_HUYEN, LOOKUP, 'TraCuuThongTinCongDan')).toMatchObject({ allowed: true });
    expect(rights.check(SOTP, LOOKUP)).toMatchObject({ allowed: false, code: 'no-grant' });
  });

  it('limits an operation-limited grant to its operations', () => {
    expect(rights.check(MOTCUA, SYNC, 'DongBoHoSoMC')).toMatchObject({ allowed: true, grant: { operations: ['CapNhatTienDoHoSoMC', 'DongBoHoSoMC'] } });
    expect(rights.check(MOTCUA, SYNC, 'XoaHoSo')).toMatchObject({ allowed: false, code: 'operation-not-granted' });
    const unnamed = rights.check(MOTCUA, SYNC);
    expect(unnamed).toMatchObject({ allowed: false, code: 'operation-not-granted' });
    if (!unnamed.allowed) expect(unnamed.reason).toMatch(/names none/);
    expect(rights.check(MOTCUA_HUYEN, SYNC, 'DongBoHoSoMC')).toMatchObject({ allowed: false, code: 'no-grant' });
  });

  it('accepts hub-local service names', () => {
    expect(rights.check(SOTP, 'dossier-status')).toMatchObject({ allowed: true });
    expect(rights.check(SOTP, 'dossier-sync')).toMatchObject({ allowed: false, code: 'no-grant' });
  });

  it('lets a grant without a version cover every version, but not the other way round', () => {
    expect(rights.check(MOTCUA, `${LOOKUP}/v1`)).toMatchObject({ allowed: true, grant: { service: LOOKUP } });
    expect(rights.check(MOTCUA, `${LOOKUP}/v2.1`)).toMatchObject({ allowed: true });
    expect(rights.check(MOTCUA, 'VN/GOV/000.00.00.H56/LIENTHONG/dossier-sync', 'DongBoHoSoMC')).toMatchObject({ allowed: false, code: 'no-grant' });
    expect(rights.check(MOTCUA, 'VN/GOV/000.00.00.H56/LIENTHONG/dossier-sync/v2', 'DongBoHoSoMC')).toMatchObject({ allowed: false, code: 'no-grant' });
  });

  it('merges grants: the widest wins, direct grants are named before group ones', () => {
    const merged = createAccessRights({
      groups: { all: [MOTCUA] },
      grants: [
        { service: LOOKUP, to: { participant: MOTCUA }, operations: ['a'] },
        { service: LOOKUP, to: { participant: MOTCUA }, operations: ['b'] },
        { service: SYNC, to: { group: 'all' } },
        { service: SYNC, to: { participant: MOTCUA }, operations: ['only'] },
      ],
    });
    expect(merged.check(MOTCUA, LOOKUP, 'b')).toMatchObject({ allowed: true, grant: { operations: ['a', 'b'] } });
    expect(merged.check(MOTCUA, LOOKUP, 'c')).toMatchObject({ allowed: false, code: 'operation-not-granted' });
    expect(merged.check(MOTCUA, SYNC, 'other')).toMatchObject({ allowed: true, grant: { to: { group: 'all' } } });
  });
});

describe('config validation', () => {
  it('refuses a grant to an unknown group, suggesting the declared one', () => {
    const error = thrown(() => createAccessRights({ groups: { 'mot-cua': [MOTCUA] }, grants: [{ service: LOOKUP, to: { group: 'motcua' } }] }));
    expect(error.type).toBe('client.bad-request');
    expect(error.detail[0]).toMatchObject({ field: 'grants[0].to.group', code: 'unknown-group' });
    expect(error.detail[0]?.reason).toContain("did you mean 'mot-cua'?");
  });

  it('reports every bad identifier as trust.bad-identity, with where it is', () => {
    const error = thrown(() =>
      createAccessRights({
        groups: { g: [MOTCUA, 'VN/GOV/00.00.00.H56/X'] },
        grants: [
          { service: 'VN/GOV/000.00.00.H56/LIENTHONG', to: { participant: MOTCUA } },
          { service: LOOKUP, to: { participant: 'VN/ORG/000.00.00.H56/X' } },
          { service: 'bad service name!', to: { group: 'g' } },
        ],
      }),
    );
    expect(error.type).toBe('trust.bad-identity');
    expect(error.status).toBe(400);
    expect(error.detail.map((d) => [d.field, d.code])).toEqual([
      ['groups.g[1]', 'agency-code'],
      ['grants[0].service', 'parts'],
      ['grants[1].to.participant', 'member-class'],
      ['grants[2].service', 'local-service-name'],
    ]);
  });

  it('reports shape problems as client.bad-request, all at once', () => {
    const error = thrown(() =>
      createAccessRights({
        grant: [],
        groups: { 'bad name': [] },
        grants: [
          { service: LOOKUP, to: { participant: MOTCUA, group: 'x' } },
          { service: LOOKUP, to: { participant: MOTCUA }, operations: [] },
          { service: LOOKUP, to: { participant: MOTCUA }, operation: ['a'] },
        ],
      } as unknown as AccessRightsConfig),
    );
    expect(error.type).toBe('client.bad-request');
    expect(error.detail.map((d) => d.code)).toEqual(['unknown-key', 'bad-group-name', 'bad-subject', 'bad-operations', 'unknown-key']);
    expect(error.detail[0]?.reason).toContain("did you mean 'grants'?");
  });

  it('publishes a JSON Schema that the hub\'s strict Ajv compiles', () => {
    const validate = createAjv({ allErrors: true }).compile(accessRightsConfigSchema());
    expect(validate(CONFIG), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({})).toBe(true);
    expect(validate({ grants: [{ service: LOOKUP }] })).toBe(false);
    expect(validate({ grants: [{ service: LOOKUP, to: { participant: MOTCUA, group: 'g' } }] })).toBe(false);
    expect(validate({ grants: [{ service: LOOKUP, to: { group: 'g' }, operations: [] }] })).toBe(false);
    expect(validate({ groups: { 'bad name': [] } })).toBe(false);
    expect(validate({ grant: [] })).toBe(false);
  });
});

describe('runtime changes', () => {
  it('grants at runtime, on top of the config', async () => {
    const { rights, log } = rightsWithLog();
    expect(rights.check(SOTP, LOOKUP)).toMatchObject({ allowed: false });
    const record = await rights.grant({ service: LOOKUP, to: { participant: SOTP }, operations: ['TraCuuThongTinCongDan'], reason: 'phiếu yêu cầu 12/2026' }, 'admin.nguyen');
    expect(record).toEqual({
      at: '2026-01-15T08:00:01.000Z', actor: 'admin.nguyen', action: 'grant', service: LOOKUP, subject: SOTP, operations: ['TraCuuThongTinCongDan'], reason: 'phiếu yêu cầu 12/2026',
    });
    expect(log.records).toEqual([record]);
    expect(rights.check(SOTP, LOOKUP, 'TraCuuThongTinCongDan')).toMatchObject({ allowed: true });
    expect(rights.check(SOTP, LOOKUP, 'XacThucThongTinCongDan')).toMatchObject({ allowed: false, code: 'operation-not-granted' });
  });

  it('makes a brand-new client known by granting to it', async () => {
    const { rights } = rightsWithLog();
    expect(rights.check(OUTSIDER, PAYMENT)).toMatchObject({ code: 'unknown-client' });
    await rights.grant({ service: PAYMENT, to: { participant: OUTSIDER } }, 'admin');
    expect(rights.check(OUTSIDER, PAYMENT)).toMatchObject({ allowed: true });
  });

  it('revokes a config grant: recorded and effective', async () => {
    const { rights, log } = rightsWithLog();
    const record = await rights.revoke({ service: PAYMENT, to: { participant: PAYGOV }, reason: 'hết hợp đồng' }, 'admin.tran');
    expect(record).toMatchObject({ action: 'revoke', actor: 'admin.tran', service: PAYMENT, subject: PAYGOV, reason: 'hết hợp đồng' });
    expect(log.records).toHaveLength(1);
    // the only grant PAYGOV had: it is now unknown to the rights altogether
    expect(rights.check(PAYGOV, PAYMENT)).toMatchObject({ allowed: false, code: 'unknown-client' });
  });

  it('revokes single operations of a limited grant, and refuses revokes that match nothing', async () => {
    const { rights, log } = rightsWithLog();
    await rights.revoke({ service: SYNC, to: { participant: MOTCUA }, operations: ['DongBoHoSoMC'] }, 'admin');
    expect(rights.check(MOTCUA, SYNC, 'DongBoHoSoMC')).toMatchObject({ allowed: false, code: 'operation-not-granted' });
    expect(rights.check(MOTCUA, SYNC, 'CapNhatTienDoHoSoMC')).toMatchObject({ allowed: true });

    const notGranted = await rejection(rights.revoke({ service: SYNC, to: { participant: MOTCUA }, operations: ['XoaHoSo'] }, 'admin'));
    expect(notGranted).toMatchObject({ type: 'client.not-found', status: 404 });
    const noGrant = await rejection(rights.revoke({ service: LOOKUP, to: { participant: PAYGOV } }, 'admin'));
    expect(noGrant.detail[0]?.code).toBe('no-such-grant');
    const fromAll = await rejection(rights.revoke({ service: LOOKUP, to: { group: 'mot-cua' }, operations: ['x'] }, 'admin'));
    expect(fromAll.detail[0]?.code).toBe('revoke-from-all');
    expect(log.records).toHaveLength(1);

    await rights.revoke({ service: SYNC, to: { participant: MOTCUA }, operations: ['CapNhatTienDoHoSoMC'] }, 'admin');
    expect(rights.check(MOTCUA, SYNC, 'CapNhatTienDoHoSoMC')).toMatchObject({ allowed: false, code: 'no-grant' });
  });

  it('changes group membership: new members gain the group\'s grants, removed ones lose them', async () => {
    const { rights, log } = rightsWithLog();
    const record = await rights.setGroupMembers({ group: 'mot-cua', members: [MOTCUA_HUYEN, SOTP, SOTP], reason: 'sáp nhập' }, 'admin.le');
    expect(record).toMatchObject({ action: 'group-set', subject: 'group:mot-cua', members: [MOTCUA_HUYEN, SOTP], actor: 'admin.le' });
    expect(record).not.toHaveProperty('service');
    expect(rights.check(SOTP, LOOKUP)).toMatchObject({ allowed: true, grant: { to: { group: 'mot-cua' } } });
    expect(rights.check(MOTCUA, LOOKUP)).toMatchObject({ allowed: false, code: 'no-grant' });
    // MOTCUA keeps its direct grant on SYNC
    expect(rights.check(MOTCUA, SYNC, 'DongBoHoSoMC')).toMatchObject({ allowed: true });
    expect(rights.snapshot().groups).toEqual({ 'mot-cua': [MOTCUA_HUYEN, SOTP] });
    expect(log.records).toHaveLength(1);
  });

  it('creates a group with setGroupMembers, which grants may then name', async () => {
    const { rights } = rightsWithLog();
    expect((await rejection(rights.grant({ service: PAYMENT, to: { group: 'thanh-toan' } }, 'admin'))).detail[0]?.code).toBe('unknown-group');
    await rights.setGroupMembers({ group: 'thanh-toan', members: [PAYGOV, MOTCUA] }, 'admin');
    await rights.grant({ service: PAYMENT, to: { group: 'thanh-toan' } }, 'admin');
    expect(rights.check(MOTCUA, PAYMENT)).toMatchObject({ allowed: true, grant: { to: { group: 'thanh-toan' } } });
  });

  it('writes change records in the order the changes were made, with actor and time', async () => {
    const { rights, log } = rightsWithLog();
    // started together, without awaiting: they still run and record one after another
    const done = await Promise.allSettled([
      rights.grant({ service: LOOKUP, to: { participant: PAYGOV } }, 'first'),
      rights.revoke({ service: LOOKUP, to: { participant: PAYGOV } }, 'second'),
      rights.revoke({ service: LOOKUP, to: { participant: PAYGOV } }, 'third'), // nothing left to revoke
      rights.setGroupMembers({ group: 'mot-cua', members: [MOTCUA] }, 'fourth'),
    ]);
    expect(done.map((d) => d.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(log.records.map((r) => [r.actor, r.action, r.at])).toEqual([
      ['first', 'grant', '2026-01-15T08:00:01.000Z'],
      ['second', 'revoke', '2026-01-15T08:00:02.000Z'],
      ['fourth', 'group-set', '2026-01-15T08:00:03.000Z'],
    ]);
    expect(rights.check(PAYGOV, LOOKUP)).toMatchObject({ allowed: false });
  });

  it('validates changes: identifiers as trust.bad-identity, the rest as client.bad-request', async () => {
    const { rights, log } = rightsWithLog();
    const badId = await rejection(rights.grant({ service: LOOKUP, to: { participant: 'VN/GOV/000.00.00.H56' } }, 'admin'));
    expect(badId).toMatchObject({ type: 'trust.bad-identity' });
    expect(badId.detail[0]).toMatchObject({ field: 'to.participant', code: 'parts' });
    const badService = await rejection(rights.grant({ service: 'VN/GOV/000.00.00.H56/LIENTHONG/x/latest', to: { participant: MOTCUA } }, 'admin'));
    expect(badService.detail[0]).toMatchObject({ field: 'service', code: 'version' });
    const badOps = await rejection(rights.grant({ service: LOOKUP, to: { participant: MOTCUA }, operations: ['has space'] }, 'admin'));
    expect(badOps).toMatchObject({ type: 'client.bad-request' });
    expect(badOps.detail[0]).toMatchObject({ field: 'operations[0]', code: 'bad-operation' });
    const noActor = await rejection(rights.grant({ service: LOOKUP, to: { participant: MOTCUA } }, ' '));
    expect(noActor.detail[0]?.code).toBe('bad-actor');
    const badMembers = await rejection(rights.setGroupMembers({ group: 'mot-cua', members: ['nobody'] }, 'admin'));
    expect(badMembers).toMatchObject({ type: 'trust.bad-identity' });
    expect(badMembers.detail[0]?.field).toBe('members[0]');
    expect(log.records).toEqual([]);
  });

  it('applies no change whose record could not be written', async () => {
    const failing: AccessChangeLog = { append: async () => { throw new Error('disk full'); } };
    const rights = createAccessRights(CONFIG, { changeLog: failing });
    await expect(rights.revoke({ service: PAYMENT, to: { participant: PAYGOV } }, 'admin')).rejects.toThrow('disk full');
    expect(rights.check(PAYGOV, PAYMENT)).toMatchObject({ allowed: true });
    // the queue goes on after a failure
    const working = createAccessRights(CONFIG, { changeLog: memoryAccessChangeLog() });
    await expect(working.revoke({ service: PAYMENT, to: { participant: PAYGOV } }, 'admin')).resolves.toMatchObject({ action: 'revoke' });
  });

  it('is read-only without a change log', async () => {
    const rights = createAccessRights(CONFIG);
    expect((await rejection(rights.grant({ service: LOOKUP, to: { participant: PAYGOV } }, 'admin'))).type).toBe('server.config');
    expect(rights.check(PAYGOV, LOOKUP)).toMatchObject({ allowed: false });
  });

  it('restores recorded changes onto the config baseline after a restart, skipping those that no longer apply', async () => {
    const { rights, log } = rightsWithLog();
    await rights.grant({ service: LOOKUP, to: { participant: PAYGOV }, operations: ['a', 'b'] }, 'admin');
    await rights.revoke({ service: LOOKUP, to: { participant: PAYGOV }, operations: ['a'] }, 'admin');
    await rights.revoke({ service: PAYMENT, to: { participant: PAYGOV } }, 'admin');
    await rights.setGroupMembers({ group: 'mot-cua', members: [MOTCUA] }, 'admin');
    const records: AccessChangeRecord[] = [...log.records, { at: 'x', actor: 'admin', action: 'revoke', service: SYNC, subject: SOTP }, { bogus: true } as unknown as AccessChangeRecord];

    const restarted = createAccessRights(CONFIG, { changeLog: memoryAccessChangeLog() });
    const outcome = await restarted.restore(records);
    expect(outcome.applied).toBe(4);
    expect(outcome.skipped.map((s) => s.index)).toEqual([4, 5]);
    expect(restarted.snapshot()).toEqual(rights.snapshot());
    expect(restarted.check(PAYGOV, LOOKUP, 'b')).toMatchObject({ allowed: true });
    expect(restarted.check(PAYGOV, LOOKUP, 'a')).toMatchObject({ allowed: false });
    expect(restarted.check(MOTCUA_HUYEN, LOOKUP)).toMatchObject({ allowed: false });
  });
});
