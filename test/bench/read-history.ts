/**
 * A generated, deterministic (seeded) PTCE history for `pnpm bench read`: members joining,
 * leaving and rejoining, spaces opened and closed, enrolments and withdrawals, meetings with
 * attendees and the decisions taken there, rules changes, recognitions, a shared legal entity and
 * its associates, a few corrections and retractions, and some events recorded after their valid
 * time (backdated). The history is simulated in valid-time order so that the domain's fold finds it
 * consistent: a backdated event is only placed where nothing already recorded depends on the days
 * it moves over (a backdated enrolment falls after the space's last decision, so no recorded
 * decision's enrolled count changes). Events are written through the event store's own append,
 * the PTCE's three streams interleaved in log order.
 */
import { createHash } from 'node:crypto';
import { deriveOutcome } from '@ptce/domain';
import type { EventStore } from '@ptce/event-store';
import { type NewEvent, type SpaceRules, type StreamFamily, streamName } from '@ptce/events';

/** 2015-01-01 … 2026-10-31, as day numbers since the epoch (UTC). */
const FIRST_DAY = Date.UTC(2015, 0, 1) / 86_400_000;
const LAST_DAY = Date.UTC(2026, 9, 31) / 86_400_000;

const CATEGORIES = [
  'ess_enterprise',
  'ess_enterprise',
  'enterprise',
  'local_authority',
  'research_higher_education',
  'training_body',
  'other_legal_person',
  'natural_person',
] as const;

export interface GeneratedEvent {
  readonly family: StreamFamily;
  readonly event: NewEvent;
}

/** mulberry32: small, fast, good enough for a bench's dice. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const isoDay = (day: number) => new Date(day * 86_400_000).toISOString().slice(0, 10);

interface Org {
  readonly id: string;
  active: boolean;
  /** Day the current (or last) membership period began. */
  joinDay: number;
  leftDay: number;
  joinEventIds: string[];
  associate: boolean;
}

interface Space {
  readonly id: string;
  readonly steering: boolean;
  readonly openDay: number;
  rules: { quorum: number; majority: 'simple' | 'absolute' | 'two_thirds' };
  /** Organisation → day its seat began. */
  readonly seats: Map<string, number>;
  /** Organisation → day of its last seat event (enrolment or withdrawal). */
  readonly lastSeatEvent: Map<string, number>;
  lastDecisionDay: number;
  closed: boolean;
}

interface Meeting {
  readonly id: string;
  readonly eventId: string;
  readonly spaceId: string;
  readonly attendees: readonly string[];
  hasDecisions: boolean;
}

/**
 * One PTCE's history, `events` long (about), in log order, its valid times in 2015–2026.
 * Deterministic for a given `ptceId`, `events` and `seed`.
 */
export function generatePtceHistory(ptceId: string, events: number, seed: number): GeneratedEvent[] {
  const rnd = prng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  let eventN = 0;
  const out: GeneratedEvent[] = [];
  const emit = (family: StreamFamily, type: string, day: number, data: Record<string, unknown>): string => {
    // Deterministic ids in the shape of a UUID v4: the PTCE, the seed and a counter, hashed.
    const hex = createHash('sha256').update(`${ptceId}/${seed}/${eventN++}`).digest('hex');
    const eventId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
    out.push({
      family,
      event: {
        eventId,
        type,
        schemaVersion: 1,
        ptceId,
        occurredAt: isoDay(day),
        recordedBy: 'bench-seed',
        data,
      },
    });
    return eventId;
  };

  const regDay = FIRST_DAY + int(0, 300);
  const span = LAST_DAY - regDay;
  let cursor = regDay;
  const perEvent = span / events;
  let day = regDay;
  const advance = (n: number) => {
    cursor += perEvent * n;
    day = Math.min(LAST_DAY, Math.floor(cursor));
  };

  const orgs = new Map<string, Org>();
  const active: string[] = [];
  const activeIndex = new Map<string, number>();
  const left: string[] = [];
  const addActive = (id: string) => {
    activeIndex.set(id, active.length);
    active.push(id);
  };
  const removeActive = (id: string) => {
    const i = activeIndex.get(id)!;
    const last = active.pop()!;
    if (last !== id) {
      active[i] = last;
      activeIndex.set(last, i);
    }
    activeIndex.delete(id);
  };
  const spaces: Space[] = [];
  const meetings: Meeting[] = [];
  const decisions: { id: string; annulled: boolean }[] = [];
  const recognitions: { eventId: string; retracted: boolean }[] = [];
  const joins: { eventId: string; org: string }[] = [];
  const activities: { id: string; ended: boolean }[] = [];
  let legalEntityDay = -1;
  let orgN = 0;
  let spaceN = 0;
  let meetingN = 0;
  let decisionN = 0;
  let activityN = 0;

  const pilotId = `pilote-${ptceId}`.slice(0, 63);
  const pilotEvent = emit('membership', 'PtceRegistered', regDay, {
    name: `Pôle ${ptceId}`,
    territory: { name: `Territoire ${ptceId}`, department: String(int(1, 95)).padStart(2, '0') },
    pilot: { organisationId: pilotId, name: 'Organisation pilote', category: 'ess_enterprise' },
  });
  orgs.set(pilotId, {
    id: pilotId,
    active: true,
    joinDay: regDay,
    leftDay: -1,
    joinEventIds: [pilotEvent],
    associate: false,
  });
  addActive(pilotId);
  advance(1);

  // A member can be named by a fact only from the day after its join: a backdated join never lands
  // on the day of a fact recorded before it.
  const usable = (id: string) => {
    const o = orgs.get(id)!;
    return o.active && o.joinDay < day;
  };
  const someUsable = (): string | undefined => {
    for (let tries = 0; tries < 8 && active.length > 0; tries++) {
      const id = pick(active);
      if (usable(id)) return id;
    }
    return undefined;
  };
  const openSpaces = () => spaces.filter((s) => !s.closed && s.openDay < day);
  // Big histories keep a few hundred members active, small ones a few dozen.
  const targetActive = Math.max(20, Math.min(400, Math.round(events / 40)));
  const targetSpaces = Math.max(3, Math.min(25, Math.round(events / 2_000)));

  const join = () => {
    const id = `org-${++orgN}`;
    // One join in ten is recorded late: its valid time is up to ~10 months back.
    const backdated = rnd() < 0.1;
    const joinDay = backdated ? Math.max(regDay + 1, day - int(1, 300)) : day;
    const eventId = emit('membership', 'MemberJoined', joinDay, {
      organisationId: id,
      name: `Coopérative n° ${orgN} de ${ptceId}`,
      category: pick(CATEGORIES),
    });
    orgs.set(id, { id, active: true, joinDay, leftDay: -1, joinEventIds: [eventId], associate: false });
    addActive(id);
    joins.push({ eventId, org: id });
  };

  const leave = () => {
    const id = someUsable();
    if (!id || id === pilotId) return;
    // Nothing of its seats may be dated this very day (a seat recorded before would end before it began).
    for (const s of spaces) if ((s.lastSeatEvent.get(id) ?? -1) >= day) return;
    emit('membership', 'MemberLeft', day, { organisationId: id, reason: 'Départ de la structure' });
    const o = orgs.get(id)!;
    o.active = false;
    o.leftDay = day;
    o.associate = false;
    removeActive(id);
    left.push(id);
    for (const s of spaces) {
      if (s.seats.delete(id)) s.lastSeatEvent.set(id, day);
    }
  };

  const rejoin = () => {
    if (left.length === 0) return;
    const i = Math.floor(rnd() * left.length);
    const id = left[i]!;
    const o = orgs.get(id)!;
    if (o.leftDay >= day) return;
    left[i] = left[left.length - 1]!;
    left.pop();
    const eventId = emit('membership', 'MemberJoined', day, {
      organisationId: id,
      name: `Coopérative ${id} (retour)`,
      category: pick(CATEGORIES),
    });
    o.active = true;
    o.joinDay = day;
    o.joinEventIds.push(eventId);
    addActive(id);
    joins.push({ eventId, org: id });
  };

  const openSpace = () => {
    const id = `espace-${++spaceN}`;
    const kind = spaceN % 3 === 1 ? 'governance' : spaceN % 3 === 2 ? 'operational' : 'strategic';
    const rules = pick([
      { quorum: 0.5, majority: 'simple' as const },
      { quorum: 0.5, majority: 'simple' as const },
      { quorum: 0.34, majority: 'absolute' as const },
      { quorum: 0.5, majority: 'two_thirds' as const },
    ]);
    emit('workgroups', 'SpaceOpened', day, {
      spaceId: id,
      kind,
      name: `Espace ${spaceN}`,
      themes: ['alimentation', 'mobilité'],
      rules,
    });
    spaces.push({
      id,
      steering: kind !== 'operational',
      openDay: day,
      rules,
      seats: new Map(),
      lastSeatEvent: new Map(),
      lastDecisionDay: -1,
      closed: false,
    });
  };

  const gathering = () => cursor - regDay > span * 0.5;
  const seatedInSteering = (id: string) => spaces.some((s) => s.steering && !s.closed && s.seats.has(id));
  const enrol = () => {
    const open = openSpaces();
    if (open.length === 0) return;
    let s = pick(open);
    let id = someUsable();
    // In its second half the PTCE gathers its members in its steering spaces (its stage moves on).
    if (gathering() && rnd() < 0.8) {
      const steering = open.filter((x) => x.steering);
      if (steering.length > 0) s = pick(steering);
      for (let tries = 0; tries < 16 && id && seatedInSteering(id); tries++) id = someUsable();
    }
    if (!id || s.seats.has(id)) return;
    const o = orgs.get(id)!;
    const floor = Math.max(o.joinDay, s.openDay, s.lastDecisionDay, s.lastSeatEvent.get(id) ?? -1) + 1;
    let at = day;
    // One enrolment in ten is recorded late, never before what was recorded of that seat or space.
    if (rnd() < 0.1) at = Math.max(floor, day - int(1, 200));
    if (at < floor) return;
    emit('workgroups', 'MemberEnrolled', at, {
      spaceId: s.id,
      organisationId: id,
      role: rnd() < 0.05 ? 'chair' : 'member',
    });
    s.seats.set(id, at);
    s.lastSeatEvent.set(id, Math.max(at, s.lastSeatEvent.get(id) ?? -1));
  };

  const withdraw = () => {
    const open = openSpaces().filter((x) => !(gathering() && x.steering));
    if (open.length === 0) return;
    const s = pick(open);
    if (s.seats.size === 0) return;
    const seated = [...s.seats.keys()];
    const id = pick(seated);
    if ((s.lastSeatEvent.get(id) ?? -1) >= day) return;
    emit('workgroups', 'MemberWithdrawnFromSpace', day, { spaceId: s.id, organisationId: id });
    s.seats.delete(id);
    s.lastSeatEvent.set(id, day);
  };

  const meet = () => {
    const open = openSpaces();
    if (open.length === 0) return;
    const s = pick(open);
    const eligible = [...s.seats].filter(([, since]) => since < day).map(([id]) => id);
    if (eligible.length < 2) return;
    const share = 0.45 + rnd() * 0.5;
    const attendees = eligible.filter(() => rnd() < share).slice(0, 200);
    if (attendees.length === 0) attendees.push(eligible[0]!);
    const meetingId = `reunion-${++meetingN}`;
    const eventId = emit('workgroups', 'MeetingHeld', day, {
      spaceId: s.id,
      meetingId,
      attendees,
      guests: int(0, 3),
    });
    const meeting: Meeting = { id: meetingId, eventId, spaceId: s.id, attendees, hasDecisions: false };
    meetings.push(meeting);
    const count = int(0, 3);
    for (let k = 0; k < count; k++) {
      const present = attendees.filter(() => rnd() < 0.95);
      if (present.length === 0) continue;
      const yes = int(0, present.length);
      const against = int(0, present.length - yes);
      const vote = { for: yes, against, abstain: present.length - yes - against };
      emit('decisions', 'DecisionRecorded', day, {
        decisionId: `decision-${++decisionN}`,
        spaceId: s.id,
        meetingId,
        present,
        title: `Délibération n° ${decisionN}`,
        kind: 'general',
        vote,
        rules: s.rules,
        enrolledCount: s.seats.size,
        outcome: deriveOutcome(s.rules as SpaceRules, s.seats.size, present.length, vote),
      });
      meeting.hasDecisions = true;
      s.lastDecisionDay = day;
      decisions.push({ id: `decision-${decisionN}`, annulled: false });
    }
  };

  const changeRules = () => {
    const open = openSpaces().filter((s) => s.lastDecisionDay < day);
    if (open.length === 0) return;
    const s = pick(open);
    s.rules =
      s.rules.majority === 'simple'
        ? { quorum: 0.4, majority: 'absolute' }
        : { quorum: 0.5, majority: 'simple' };
    emit('workgroups', 'SpaceRulesChanged', day, {
      spaceId: s.id,
      rules: s.rules,
      reason: 'Révision du règlement',
    });
  };

  const closeSpace = () => {
    const open = openSpaces().filter((s) => s.lastDecisionDay < day && !(gathering() && s.steering));
    if (open.length <= 2) return;
    const s = pick(open);
    for (const at of s.lastSeatEvent.values()) if (at >= day) return;
    emit('workgroups', 'SpaceClosed', day, { spaceId: s.id });
    s.closed = true;
  };

  const recognise = () => {
    const at = rnd() < 0.3 ? Math.max(regDay + 1, day - int(1, 500)) : day;
    const eventId = emit('membership', 'RecognitionGranted', at, {
      programme: 'Appel à manifestation d’intérêt PTCE',
      grantor: 'État',
      amountEur: int(5, 100) * 1_000,
    });
    recognitions.push({ eventId, retracted: false });
  };

  const retractRecognition = () => {
    const r = recognitions.find((x) => !x.retracted && rnd() < 0.3);
    if (!r) return;
    r.retracted = true;
    emit('membership', 'EventRetracted', day, {
      retractedEventId: r.eventId,
      retractedType: 'RecognitionGranted',
      reason: 'Saisie en double',
    });
  };

  const correctJoin = () => {
    if (joins.length === 0) return;
    const j = pick(joins);
    emit('membership', 'MembershipCorrected', day, {
      correctsEventId: j.eventId,
      organisationId: j.org,
      fields: { name: `Coopérative ${j.org} (raison sociale corrigée)` },
      reason: 'Coquille dans la raison sociale',
    });
  };

  const correctMeeting = () => {
    const candidates = meetings.slice(-50).filter((m) => !m.hasDecisions && m.attendees.length > 1);
    if (candidates.length === 0) return;
    const m = pick(candidates);
    emit('workgroups', 'MeetingCorrected', day, {
      correctsEventId: m.eventId,
      spaceId: m.spaceId,
      meetingId: m.id,
      fields: { attendees: m.attendees.slice(0, -1) },
      reason: 'Feuille d’émargement relue',
    });
  };

  const annul = () => {
    const d = decisions.slice(-30).find((x) => !x.annulled);
    if (!d) return;
    d.annulled = true;
    emit('decisions', 'DecisionAnnulled', day, { decisionId: d.id, reason: 'Annulée par le comité' });
  };

  const launchActivity = () => {
    const carriers = new Set<string>();
    for (let k = 0; k < 3; k++) {
      const id = someUsable();
      if (id) carriers.add(id);
    }
    if (carriers.size === 0) return;
    const activityId = `activite-${++activityN}`;
    emit('workgroups', 'ActivityLaunched', day, {
      activityId,
      name: `Activité ${activityN}`,
      theme: 'circuits courts',
      carriers: [...carriers],
    });
    activities.push({ id: activityId, ended: false });
  };

  const endActivity = () => {
    const a = activities.find((x) => !x.ended);
    if (!a) return;
    a.ended = true;
    emit('workgroups', 'ActivityEnded', day, { activityId: a.id });
  };

  const registerEntity = () => {
    if (legalEntityDay >= 0) return;
    legalEntityDay = day;
    emit('membership', 'LegalEntityRegistered', day, { name: `SCIC ${ptceId}`, legalForm: 'scic' });
  };

  const admit = () => {
    if (legalEntityDay < 0 || legalEntityDay >= day) return;
    const id = someUsable();
    if (!id) return;
    const o = orgs.get(id)!;
    if (o.associate) return;
    o.associate = true;
    emit('membership', 'AssociateAdmitted', day, { organisationId: id });
  };

  while (out.length < events) {
    const before = out.length;
    const members = active.length;
    const r = rnd() * 100;
    if (spaces.filter((s) => !s.closed).length < Math.min(targetSpaces, 1 + out.length / 50)) openSpace();
    else if (r < (members < targetActive ? 18 : 4)) join();
    else if (r < 24) (members > targetActive ? leave : rejoin)();
    else if (r < 26) leave();
    else if (r < 28) rejoin();
    else if (r < 56) enrol();
    else if (r < 63) withdraw();
    else if (r < 85) meet();
    else if (r < 86) changeRules();
    else if (r < 86.3) closeSpace();
    else if (r < 87.5) recognise();
    else if (r < 88) retractRecognition();
    else if (r < 89) correctJoin();
    else if (r < 89.5) correctMeeting();
    else if (r < 90) annul();
    else if (r < 91) launchActivity();
    else if (r < 91.3) endActivity();
    else if (r < 92) {
      if (cursor - regDay > span * 0.4) registerEntity();
    } else if (r < 96) admit();
    else enrol();
    if (out.length > before) advance(out.length - before);
  }
  return out;
}

/**
 * Appends a generated history in log order: the runs of one stream become one append each, and
 * the appends of a chunk of ~`chunk` events are all requested in the same turn of the event loop
 * so that the store writes them in one transaction, in order. Returns how many were written.
 * (recordedAt is the store's clock at each append: `pauseMs` between chunks spreads it out.)
 */
export async function appendHistory(
  store: EventStore,
  ptceId: string,
  history: readonly GeneratedEvent[],
  { chunk = 1_000, pauseMs = 0 }: { chunk?: number; pauseMs?: number } = {},
): Promise<number> {
  const revisions = new Map<StreamFamily, number>();
  let written = 0;
  for (let start = 0; start < history.length; start += chunk) {
    const slice = history.slice(start, start + chunk);
    const appends: Promise<unknown>[] = [];
    let i = 0;
    while (i < slice.length) {
      const family = slice[i]!.family;
      let j = i;
      while (j < slice.length && slice[j]!.family === family) j++;
      const batch = slice.slice(i, j).map((g) => g.event);
      const expected = revisions.get(family) ?? -1;
      revisions.set(family, expected + batch.length);
      appends.push(
        store.append(streamName(family, ptceId), batch, {
          expectedRevision: expected < 0 ? 'no_stream' : expected,
        }),
      );
      i = j;
    }
    await Promise.all(appends);
    written += slice.length;
    // A pause between chunks spreads their recordedAt: knownAt then cuts the history at many places.
    if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  return written;
}
