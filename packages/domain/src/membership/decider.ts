import {
  type Category,
  compareValidTime,
  type LegalForm,
  type LegalStatus,
  type ValidTime,
} from '@ptce/events';
import { knownEvent } from '../ledger/compile.ts';
import type { Ledger, Territory } from '../ledger/types.ts';
import {
  assertNoNewContradiction,
  assertNotFuture,
  assertRegistered,
  assertRegisteredAt,
  compiledOf,
  type Dated,
  type DecideContext,
  type EventToAppend,
  finalState,
  hasFields,
  transactionTime,
  type Undated,
  withEvidence,
  withoutUndefined,
} from '../shared/decider.ts';
import { refuse } from '../shared/refusals.ts';
import { isErased, recordedCategoryOf } from './personal-data.ts';

export type MembershipCommand =
  | (Dated & {
      readonly type: 'RegisterPtce';
      readonly ptceId: string;
      readonly name: string;
      readonly territory: Territory;
      readonly pilot: {
        readonly organisationId: string;
        readonly name: string;
        readonly category: Category;
        readonly legalStatus?: LegalStatus;
      };
    })
  | (Dated & {
      readonly type: 'JoinMember';
      readonly organisationId: string;
      readonly name: string;
      readonly category: Category;
      readonly legalStatus?: LegalStatus;
    })
  | (Dated & { readonly type: 'LeaveMember'; readonly organisationId: string; readonly reason?: string })
  | (Undated & {
      readonly type: 'CorrectMembership';
      readonly organisationId: string;
      readonly fields: {
        readonly name?: string;
        readonly category?: Category;
        readonly legalStatus?: LegalStatus;
        readonly joinedAt?: ValidTime;
      };
      readonly reason: string;
    })
  | (Dated & { readonly type: 'HandOverPilot'; readonly organisationId: string })
  | (Dated & {
      readonly type: 'RegisterLegalEntity';
      readonly name: string;
      readonly legalForm: LegalForm;
      readonly registrationId?: string;
    })
  | (Undated & {
      readonly type: 'CorrectLegalEntity';
      readonly fields: {
        readonly name?: string;
        readonly legalForm?: LegalForm;
        readonly registrationId?: string;
        readonly registeredAt?: ValidTime;
      };
      readonly reason: string;
    })
  | (Dated & { readonly type: 'AdmitAssociate'; readonly organisationId: string; readonly college?: string })
  | (Dated & { readonly type: 'WithdrawAssociate'; readonly organisationId: string })
  | (Dated & {
      readonly type: 'GrantRecognition';
      readonly programme: string;
      readonly grantor: string;
      readonly amountEur?: number;
    })
  | (Undated & { readonly type: 'RetractEvent'; readonly eventId: string; readonly reason: string })
  | (Undated & { readonly type: 'EraseMember'; readonly organisationId: string; readonly reason: string });

export function decideMembership(
  command: MembershipCommand,
  ledger: Ledger,
  ctx: DecideContext,
): EventToAppend[] {
  const events = decide(command, ledger, ctx);
  // Corrections and retractions included: none may leave the history contradicting itself.
  assertNoNewContradiction(ledger, events, ctx);
  return events;
}

function decide(command: MembershipCommand, ledger: Ledger, ctx: DecideContext): EventToAppend[] {
  const ev = withEvidence(command.evidence);
  switch (command.type) {
    case 'RegisterPtce': {
      assertNotFuture(command.occurredAt, ctx);
      if (
        finalState(ledger).registration ||
        compiledOf(ledger).facts.some((f) => f.type === 'PtceRegistered')
      ) {
        throw refuse('ptce_already_registered', `PTCE ${command.ptceId} is already registered`);
      }
      return [
        {
          type: 'PtceRegistered',
          data: withoutUndefined({
            name: command.name,
            territory: withoutUndefined({ ...command.territory }),
            pilot: withoutUndefined({ ...command.pilot }),
          }),
          occurredAt: command.occurredAt,
          ...ev,
        },
      ];
    }
    case 'JoinMember': {
      const state = assertRegisteredAt(ledger, command.occurredAt, ctx);
      const org = command.organisationId;
      const later = (finalState(ledger).periods.get(org) ?? []).find(
        (p) => compareValidTime(p.joinedAt, command.occurredAt) > 0,
      );
      if (isErased(ledger, org)) {
        throw refuse(
          'member_erased',
          `${org} is a natural person whose personal data was erased: record a return under another organisationId`,
          { organisationId: org },
        );
      }
      if (state.members.has(org) || later) {
        throw refuse(
          'already_member',
          `${org} is already a member at ${command.occurredAt}${later ? ` (it joins on ${later.joinedAt} with no leave in between)` : ''}`,
          {
            organisationId: org,
          },
        );
      }
      return [
        {
          type: 'MemberJoined',
          data: withoutUndefined({
            organisationId: org,
            name: command.name,
            category: command.category,
            legalStatus: command.legalStatus,
          }),
          occurredAt: command.occurredAt,
          ...ev,
        },
      ];
    }
    case 'LeaveMember': {
      const state = assertRegisteredAt(ledger, command.occurredAt, ctx);
      const org = command.organisationId;
      if (!state.members.has(org))
        throw refuse('not_a_member', `${org} is not an active member at ${command.occurredAt}`, {
          organisationId: org,
        });
      if (state.pilotId === org) {
        throw refuse('pilot_cannot_leave', `${org} is the pilot: hand the pilot role over before it leaves`, {
          organisationId: org,
        });
      }
      return [
        {
          type: 'MemberLeft',
          data: withoutUndefined({ organisationId: org, reason: command.reason }),
          occurredAt: command.occurredAt,
          ...ev,
        },
      ];
    }
    case 'CorrectMembership': {
      assertRegistered(ledger);
      const org = command.organisationId;
      if (!hasFields(command.fields))
        throw refuse('nothing_to_correct', 'give at least one of name, category, legalStatus, joinedAt');
      const final = finalState(ledger);
      const period = final.periods.get(org)?.at(-1);
      if (!period)
        throw refuse('member_not_found', `${org} has no membership record in this PTCE`, {
          organisationId: org,
        });
      if (command.fields.name !== undefined && isErased(ledger, org)) {
        throw refuse('member_erased', `${org}'s personal data was erased: no name can be recorded for it`, {
          organisationId: org,
        });
      }
      const category = recordedCategoryOf(ledger, org);
      if (command.fields.category === 'natural_person' && category !== 'natural_person') {
        // Its name went to the log in the clear, as an organisation's does; a natural person's
        // must be sealed from its first record, or no erasure could ever make it unreadable.
        throw refuse(
          'personal_data_in_clear',
          `${org} was recorded as ${category ?? 'an organisation'}, with its name in the clear: retract its join and record the person anew as a natural_person`,
          { organisationId: org },
        );
      }
      const joinedAt = command.fields.joinedAt;
      if (joinedAt) {
        assertNotFuture(joinedAt, ctx);
        const registration = final.registration!;
        // The founding pilot's join is the registration itself, and correcting one corrects the
        // other; but a member correction may not claim the pilot joined a PTCE that did not exist
        // yet, so the registration can move later (when nothing before it depends on it), never earlier.
        if (compareValidTime(joinedAt, registration.at) < 0) {
          const founder = period.joinEventId === registration.eventId;
          throw refuse(
            'before_registration',
            founder
              ? `${org} founded the PTCE: its membership starts with the registration on ${registration.at}, not ${joinedAt}`
              : `${joinedAt} is before the PTCE's registration on ${registration.at}`,
            { registeredAt: registration.at },
          );
        }
        if (period.leftAt && compareValidTime(joinedAt, period.leftAt) > 0) {
          throw refuse('joined_after_leaving', `${org} left on ${period.leftAt}, before ${joinedAt}`);
        }
      }
      return [
        {
          type: 'MembershipCorrected',
          data: {
            correctsEventId: period.joinEventId,
            organisationId: org,
            fields: withoutUndefined({ ...command.fields }),
            reason: command.reason,
          },
          occurredAt: transactionTime(ctx),
          ...ev,
        },
      ];
    }
    case 'HandOverPilot': {
      const state = assertRegisteredAt(ledger, command.occurredAt, ctx);
      const org = command.organisationId;
      if (!state.members.has(org))
        throw refuse('not_a_member_at_date', `${org} is not an active member at ${command.occurredAt}`, {
          organisationId: org,
        });
      if (state.pilotId === org)
        throw refuse('already_pilot', `${org} is already the pilot`, { organisationId: org });
      return [
        {
          type: 'PilotHandedOver',
          data: { organisationId: org, previousPilotId: state.pilotId ?? org },
          occurredAt: command.occurredAt,
          ...ev,
        },
      ];
    }
    case 'RegisterLegalEntity': {
      assertRegisteredAt(ledger, command.occurredAt, ctx);
      const existing = finalState(ledger).legalEntity;
      if (existing)
        throw refuse(
          'legal_entity_already_registered',
          `a shared legal entity was registered on ${existing.registeredAt}`,
        );
      return [
        {
          type: 'LegalEntityRegistered',
          data: withoutUndefined({
            name: command.name,
            legalForm: command.legalForm,
            registrationId: command.registrationId,
          }),
          occurredAt: command.occurredAt,
          ...ev,
        },
      ];
    }
    case 'CorrectLegalEntity': {
      assertRegistered(ledger);
      if (!hasFields(command.fields))
        throw refuse(
          'nothing_to_correct',
          'give at least one of name, legalForm, registrationId, registeredAt',
        );
      const final = finalState(ledger);
      const entity = final.legalEntity;
      if (!entity) throw refuse('legal_entity_not_found', 'no shared legal entity is registered');
      const at = command.fields.registeredAt;
      if (at) {
        assertNotFuture(at, ctx);
        if (compareValidTime(at, final.registration!.at) < 0) {
          throw refuse(
            'before_registration',
            `${at} is before the PTCE's registration on ${final.registration!.at}`,
          );
        }
      }
      return [
        {
          type: 'LegalEntityCorrected',
          data: {
            correctsEventId: entity.eventId,
            fields: withoutUndefined({ ...command.fields }),
            reason: command.reason,
          },
          occurredAt: transactionTime(ctx),
          ...ev,
        },
      ];
    }
    case 'AdmitAssociate': {
      const state = assertRegisteredAt(ledger, command.occurredAt, ctx);
      const org = command.organisationId;
      if (!state.legalEntity)
        throw refuse('no_legal_entity', `no shared legal entity is registered at ${command.occurredAt}`);
      if (!state.members.has(org))
        throw refuse('not_a_member_at_date', `${org} is not an active member at ${command.occurredAt}`, {
          organisationId: org,
        });
      if (state.associates.has(org))
        throw refuse('already_associate', `${org} is already an associate`, { organisationId: org });
      return [
        {
          type: 'AssociateAdmitted',
          data: withoutUndefined({ organisationId: org, college: command.college }),
          occurredAt: command.occurredAt,
          ...ev,
        },
      ];
    }
    case 'WithdrawAssociate': {
      const state = assertRegisteredAt(ledger, command.occurredAt, ctx);
      const org = command.organisationId;
      if (!state.associates.has(org))
        throw refuse('not_an_associate', `${org} is not an associate at ${command.occurredAt}`, {
          organisationId: org,
        });
      return [
        { type: 'AssociateWithdrew', data: { organisationId: org }, occurredAt: command.occurredAt, ...ev },
      ];
    }
    case 'GrantRecognition': {
      assertRegisteredAt(ledger, command.occurredAt, ctx);
      return [
        {
          type: 'RecognitionGranted',
          data: withoutUndefined({
            programme: command.programme,
            grantor: command.grantor,
            amountEur: command.amountEur,
          }),
          occurredAt: command.occurredAt,
          ...ev,
        },
      ];
    }
    case 'RetractEvent': {
      assertRegistered(ledger);
      const target = knownEvent(compiledOf(ledger), command.eventId);
      if (!target)
        throw refuse('event_not_found', `event ${command.eventId} is not an event of this PTCE`, {
          eventId: command.eventId,
        });
      if (target.retractedBy)
        throw refuse('already_retracted', `event ${command.eventId} was already retracted`, {
          eventId: command.eventId,
        });
      if (target.type === 'EventRetracted')
        throw refuse('cannot_retract_retraction', 'a retraction cannot itself be retracted');
      if (target.type === 'PersonalDataErased') {
        throw refuse('cannot_retract_erasure', 'an erasure destroyed a data key: nothing can bring it back');
      }
      if (target.type === 'PtceRegistered') {
        throw refuse(
          'cannot_retract_registration',
          "the PTCE's registration cannot be retracted; correct it instead",
        );
      }
      return [
        {
          type: 'EventRetracted',
          data: { retractedEventId: command.eventId, retractedType: target.type, reason: command.reason },
          occurredAt: transactionTime(ctx),
          ...ev,
        },
      ];
    }
    case 'EraseMember': {
      assertRegistered(ledger);
      const org = command.organisationId;
      const category = recordedCategoryOf(ledger, org);
      if (category === undefined)
        throw refuse('member_not_found', `${org} has no membership record in this PTCE`, {
          organisationId: org,
        });
      if (category !== 'natural_person') {
        throw refuse(
          'not_a_natural_person',
          `${org} is recorded as ${category}: only a natural person's personal data is erased`,
          { organisationId: org, category },
        );
      }
      if (isErased(ledger, org))
        throw refuse('already_erased', `${org}'s personal data was already erased`, { organisationId: org });
      return [
        {
          type: 'PersonalDataErased',
          data: { organisationId: org, reason: command.reason },
          occurredAt: transactionTime(ctx),
          ...ev,
        },
      ];
    }
    default: {
      const never: never = command;
      return never;
    }
  }
}
