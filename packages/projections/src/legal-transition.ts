import type { DecisionState, Ledger, LedgerState, LegalEntityState } from '@ptce/domain';
import { compareValidTime, type LegalForm, type LegalStep, type ValidTime } from '@ptce/events';
import { associatesOf, ledgerAt } from './queries.ts';
import { STEERING_KINDS } from './stage.ts';

/*
 * How far a PTCE has gone towards a shared legal structure of its own, read from the state at t.
 *
 * - The phases are ordered: none, exploring (a study of the structure was opened), form_chosen,
 *   statutes_adopted, registered. The phase is the furthest one reached; a PTCE may jump over
 *   phases (statutes adopted with no recorded study still means statutes_adopted).
 * - The first three phases are reached by decisions about the shared legal structure whose
 *   subject names the step. A decision counts only when it was adopted, has not been annulled by
 *   t, and was taken in a steering space (strategic or governance): a working group cannot commit
 *   the PTCE to a structure, and a rejected or annulled decision committed it to nothing.
 * - The last phase is reached when the shared entity is registered at t; no decision is needed for
 *   it, the registration is itself the fact.
 * - The legal form reported is the one named by the latest counted decision until the entity is
 *   registered; from then on it is the registered entity's form, which is what exists in law.
 * - The associates are those of the entity at t who are active members; their share is taken over
 *   every active member, the pilot included, as the stage's associate share is.
 */

export type LegalPhase = 'none' | 'exploring' | 'form_chosen' | 'statutes_adopted' | 'registered';

/** Phases in the order a PTCE goes through them. */
export const LEGAL_PHASES: readonly LegalPhase[] = Object.freeze([
  'none',
  'exploring',
  'form_chosen',
  'statutes_adopted',
  'registered',
]);

/** The phase each decided step reaches. */
const PHASE_OF_STEP: Readonly<Record<LegalStep, Exclude<LegalPhase, 'none' | 'registered'>>> = {
  study_opened: 'exploring',
  form_chosen: 'form_chosen',
  statutes_adopted: 'statutes_adopted',
};

export interface LegalTransitionStep {
  readonly step: Exclude<LegalPhase, 'none'>;
  /** The counted decision's valid time, or the entity's registration for `registered`. */
  readonly date: ValidTime;
  /** The decision that reached the step; null for `registered`, which no decision reaches. */
  readonly decisionId: string | null;
}

export interface LegalTransition {
  readonly phase: LegalPhase;
  readonly legalForm: LegalForm | null;
  readonly entity: LegalEntityState | null;
  readonly associates: {
    readonly count: number;
    /** Associates over active members; 0 when there is no active member (nothing to share). */
    readonly share: number;
    /** Associates per college they were admitted in. */
    readonly byCollege: Readonly<Record<string, number>>;
    /** Associates admitted in no college: not in `byCollege`, so no label can collide with them. */
    readonly withoutCollege: number;
  };
  /** Each step reached, in phase order. */
  readonly steps: readonly LegalTransitionStep[];
}

type LegalDecision = DecisionState & {
  readonly subject: { readonly step: LegalStep; readonly legalForm: LegalForm };
};

/**
 * Decisions that commit the PTCE to a step, in valid-time order (then decision id, so that ties
 * never depend on map order). The state at t holds only decisions taken by t, and an annulment is
 * in it only once it took effect by t.
 */
function countedDecisions(state: LedgerState): LegalDecision[] {
  const counted: LegalDecision[] = [];
  for (const d of state.decisions.values()) {
    if (d.kind !== 'shared_legal_structure' || d.outcome !== 'adopted' || d.annulled) continue;
    if (!d.subject || !('step' in d.subject)) continue;
    const kind = state.spaces.get(d.spaceId)?.kind;
    if (!kind || !STEERING_KINDS.has(kind)) continue;
    counted.push(d as LegalDecision);
  }
  return counted.sort(
    (a, b) =>
      compareValidTime(a.decidedAt, b.decidedAt) ||
      (a.decisionId < b.decisionId ? -1 : a.decisionId > b.decisionId ? 1 : 0),
  );
}

/** The legal transition of `state`, the ledger state as of `t` (the caller replays it; see `legalTransitionAt`). */
export function legalTransitionOf(state: LedgerState, _t: ValidTime): LegalTransition {
  const decisions = countedDecisions(state);

  // The first counted decision of each step dates it: a later decision repeating the step (a
  // second vote on the statutes) does not move when the step was reached.
  const firstByPhase = new Map<LegalPhase, LegalDecision>();
  for (const d of decisions) {
    const phase = PHASE_OF_STEP[d.subject.step];
    if (!firstByPhase.has(phase)) firstByPhase.set(phase, d);
  }
  const entity = state.legalEntity;
  const steps: LegalTransitionStep[] = [];
  for (const phase of LEGAL_PHASES) {
    if (phase === 'none') continue;
    if (phase === 'registered') {
      if (entity) steps.push({ step: phase, date: entity.registeredAt, decisionId: null });
      continue;
    }
    const d = firstByPhase.get(phase);
    if (d) steps.push({ step: phase, date: d.decidedAt, decisionId: d.decisionId });
  }
  const phase: LegalPhase = steps.at(-1)?.step ?? 'none';
  const legalForm = entity ? entity.legalForm : (decisions.at(-1)?.subject.legalForm ?? null);

  const associates = associatesOf(state);
  const byCollege: Record<string, number> = {};
  let withoutCollege = 0;
  for (const a of associates) {
    if (a.college === undefined) withoutCollege += 1;
    else byCollege[a.college] = (byCollege[a.college] ?? 0) + 1;
  }
  const memberCount = state.members.size;

  return {
    phase,
    legalForm,
    entity,
    associates: {
      count: associates.length,
      share: memberCount === 0 ? 0 : associates.length / memberCount,
      byCollege,
      withoutCollege,
    },
    steps,
  };
}

/** The legal transition as of valid time `t`. */
export function legalTransitionAt(ledger: Ledger, t: ValidTime): LegalTransition {
  return legalTransitionOf(ledgerAt(ledger, t), t);
}
