import { type Ledger, type LedgerState, legalStatusOf } from '@ptce/domain';
import type { Category, LegalForm, ValidTime } from '@ptce/events';
import { ledgerAt } from './queries.ts';

/*
 * Whether a PTCE meets the conditions to answer a call for projects of the State, read from the
 * state at t. Indicative only: it checks what the ledger records, not what a jury will judge.
 *
 * - A private-law legal person carries the PTCE. Once the shared entity is registered, it is the
 *   carrier: every listed legal form is private law, except `other`, whose status the ledger
 *   cannot tell (reported unknown). Before that, the pilot carries it: not when it is a local
 *   authority (public) or a natural person (not a legal person); otherwise when its legal status
 *   (recorded, else the default of its category) is private. A status nobody recorded and no
 *   category implies is reported unknown, and the condition does not hold until it is recorded.
 * - At least three members are legal persons (every category but natural persons).
 * - Among those legal persons: at least one ESS enterprise, at least one other enterprise, and at
 *   least one member of some other category (a local authority, a research or training body…).
 * - A PTCE not registered at t has no members and no carrier: it is not eligible, and every
 *   condition says why.
 */

export type EligibilityConditionId =
  | 'private_law_carrier'
  | 'three_legal_persons'
  | 'ess_enterprise_member'
  | 'enterprise_member'
  | 'other_category_member';

export const ELIGIBILITY_CONDITIONS: readonly EligibilityConditionId[] = Object.freeze([
  'private_law_carrier',
  'three_legal_persons',
  'ess_enterprise_member',
  'enterprise_member',
  'other_category_member',
]);

export interface EligibilityCondition {
  readonly id: EligibilityConditionId;
  readonly holds: boolean;
  /**
   * True when the ledger lacks what the condition needs (the legal status of the carrier): the
   * condition does not hold, but it may once that is recorded.
   */
  readonly unknown: boolean;
  readonly detail: string;
}

export interface Eligibility {
  readonly eligible: boolean;
  readonly conditions: readonly EligibilityCondition[];
}

/** The legal forms of private law; `other` says nothing of the form, so nothing of its status. */
const PRIVATE_LAW_FORMS: ReadonlySet<LegalForm> = new Set<LegalForm>([
  'scic',
  'association',
  'sas',
  'sarl',
  'scop',
  'gie',
  'endowment_fund',
  'foundation',
]);

/** Categories that can never carry as a private-law legal person, whatever is recorded. */
const NEVER_PRIVATE_CARRIER: ReadonlySet<Category> = new Set<Category>(['local_authority', 'natural_person']);

/** The categories the last condition does not count: they have conditions of their own. */
const ENTERPRISE_CATEGORIES: ReadonlySet<Category> = new Set<Category>(['ess_enterprise', 'enterprise']);

const condition = (
  id: EligibilityConditionId,
  holds: boolean,
  detail: string,
  unknown = false,
): EligibilityCondition => ({ id, holds, unknown, detail });

function carrierCondition(state: LedgerState): EligibilityCondition {
  const id = 'private_law_carrier';
  const entity = state.legalEntity;
  if (entity) {
    if (PRIVATE_LAW_FORMS.has(entity.legalForm))
      return condition(
        id,
        true,
        `the shared entity ${entity.name} (${entity.legalForm}) is a private-law legal person`,
      );
    return condition(
      id,
      false,
      `the shared entity ${entity.name} has legal form ${entity.legalForm}: whether it is private law is not recorded`,
      true,
    );
  }
  const pilotId = state.pilotId;
  const pilot = pilotId === null ? undefined : state.members.get(pilotId);
  if (!pilot) return condition(id, false, 'no shared entity is registered and the PTCE has no pilot');
  const who = `no shared entity is registered; the pilot ${pilot.organisationId} (${pilot.category})`;
  if (NEVER_PRIVATE_CARRIER.has(pilot.category)) {
    return condition(
      id,
      false,
      pilot.category === 'natural_person'
        ? `${who} is a natural person, not a legal person`
        : `${who} is a public person`,
    );
  }
  const status = legalStatusOf(pilot);
  if (status === 'private') return condition(id, true, `${who} is a private-law legal person`);
  if (status === 'public') return condition(id, false, `${who} is a public person`);
  return condition(
    id,
    false,
    `${who} has no recorded legal status and its category implies none: record whether it is public or private`,
    true,
  );
}

/** The eligibility of `state`, the ledger state as of `t` (the caller replays it; see `eligibilityAt`). */
export function eligibilityOf(state: LedgerState, _t: ValidTime): Eligibility {
  if (!state.registration) {
    const detail = 'the PTCE is not registered at that date';
    return {
      eligible: false,
      conditions: ELIGIBILITY_CONDITIONS.map((id) => condition(id, false, detail)),
    };
  }
  const legalPersons = [...state.members.values()].filter((m) => m.category !== 'natural_person');
  const count = (pick: (c: Category) => boolean) => legalPersons.filter((m) => pick(m.category)).length;
  const ess = count((c) => c === 'ess_enterprise');
  const enterprises = count((c) => c === 'enterprise');
  const others = count((c) => !ENTERPRISE_CATEGORIES.has(c));
  const conditions = [
    carrierCondition(state),
    condition(
      'three_legal_persons',
      legalPersons.length >= 3,
      `${legalPersons.length} active member(s) are legal persons; at least 3 are needed`,
    ),
    condition(
      'ess_enterprise_member',
      ess >= 1,
      `${ess} active member(s) are ESS enterprises; at least 1 is needed`,
    ),
    condition(
      'enterprise_member',
      enterprises >= 1,
      `${enterprises} active member(s) are enterprises outside the ESS; at least 1 is needed`,
    ),
    condition(
      'other_category_member',
      others >= 1,
      `${others} active legal-person member(s) are of a category other than enterprises; at least 1 is needed`,
    ),
  ];
  return { eligible: conditions.every((c) => c.holds), conditions };
}

/** The eligibility as of valid time `t`. */
export function eligibilityAt(ledger: Ledger, t: ValidTime): Eligibility {
  return eligibilityOf(ledgerAt(ledger, t), t);
}
