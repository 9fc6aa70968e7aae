import { type Ledger, ledgerFinal, recordedCategoryOf } from '@ptce/domain';
import {
  activeMembersOf,
  DEFAULT_WINDOW_MONTHS,
  ledgerAt,
  rulesVersion,
  type StageRules,
} from '@ptce/projections';
import { eligibilityBody, legalTransitionBody, participationBody, stageBody } from '@ptce/read-models';
import type { Snapshot } from './schemas.ts';

const NATURAL_PERSON = 'natural_person';

/**
 * Every organisation id the ledger ever gave a natural person: at asOf, or by its latest join as
 * the log now tells it (one who has left is still in warnings and histories).
 */
function naturalPersonIds(ledger: Ledger, asOf: string): Set<string> {
  const ids = new Set<string>();
  for (const member of ledgerAt(ledger, asOf).members.values()) {
    if (member.category === NATURAL_PERSON) ids.add(member.organisationId);
  }
  for (const [id, member] of ledgerFinal(ledger).members) {
    if (member.category === NATURAL_PERSON) ids.add(id);
  }
  for (const id of ledgerFinal(ledger).periods.keys()) {
    if (recordedCategoryOf(ledger, id) === NATURAL_PERSON) ids.add(id);
  }
  return ids;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Where free text may name an organisation: a warning's message and details, a condition's detail. */
const TEXT_KEYS = new Set(['message', 'details', 'detail']);

/**
 * Takes natural persons' ids out of what a snapshot carries: from lists of ids and from keys
 * everywhere, and from free text (a warning's message) where they stand as a whole id. Other
 * strings are left alone: an enum value or a label that happens to equal an id is no leak.
 */
function scrubber(ids: ReadonlySet<string>): <T>(value: T) => T {
  if (ids.size === 0) return (value) => value;
  const pattern = new RegExp(`(?<![a-z0-9-])(?:${[...ids].map(escapeRegExp).join('|')})(?![a-z0-9-])`, 'g');
  const scrub = (value: unknown, text: boolean): unknown => {
    if (typeof value === 'string') return text ? value.replace(pattern, '(a natural person)') : value;
    if (Array.isArray(value)) {
      return value
        .filter((item) => !(typeof item === 'string' && ids.has(item)))
        .map((item) => scrub(item, text));
    }
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value)
          .filter(([key]) => !ids.has(key))
          .map(([key, item]) => [key, scrub(item, text || TEXT_KEYS.has(key))]),
      );
    }
    return value;
  };
  return <T>(value: T) => scrub(value, false) as T;
}

/**
 * The indicators of a snapshot, from a ledger cut to the part of the log asked for, with the
 * functions the read service answers with; natural persons only counted. Null when the ledger
 * holds no registration.
 */
export function snapshotOf(
  ptceId: string,
  ledger: Ledger,
  asOf: string,
  rules: StageRules,
  position: string,
  heads: Snapshot['heads'],
): Snapshot | null {
  const registration = ledgerFinal(ledger).registration;
  if (registration === null) return null;
  const ids = naturalPersonIds(ledger, asOf);
  const scrub = scrubber(ids);
  const state = ledgerAt(ledger, asOf);
  const active = activeMembersOf(state);

  const stage = stageBody(ledger, asOf, rules);
  const counted = (list: readonly string[]) => list.filter((id) => ids.has(id)).length;
  const participation = participationBody(ledger, asOf, DEFAULT_WINDOW_MONTHS);
  const people = participation.byMember.filter(
    (member) => member.category === NATURAL_PERSON || ids.has(member.organisationId),
  );

  return {
    ptceId,
    name: (state.registration ?? registration).name,
    asOf,
    position,
    rulesVersion: rulesVersion(rules),
    thresholds: {
      minPartners: rules.minPartners,
      collectiveShare: rules.collectiveShare,
      minAssociateShare: rules.minAssociateShare,
      stalledAfterMonths: rules.stalledAfterMonths,
    },
    heads,
    members: {
      total: active.length,
      naturalPersons: active.filter((m) => m.category === NATURAL_PERSON || ids.has(m.organisationId)).length,
    },
    stage: scrub({
      ...stage,
      naturalPersons: {
        core: counted(stage.core),
        periphery: counted(stage.periphery),
        outside: counted(stage.outside),
      },
    }),
    participation: scrub({
      ...participation,
      byMember: participation.byMember.filter((member) => !people.includes(member)),
      naturalPersons: people.length,
    }),
    legalTransition: scrub(legalTransitionBody(ledger, asOf)),
    eligibility: scrub(eligibilityBody(ledger, asOf)),
  };
}
