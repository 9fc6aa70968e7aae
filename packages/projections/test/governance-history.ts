import type {
  Category,
  DecisionKind,
  EventEnvelope,
  LegalForm,
  LegalStatus,
  LegalStep,
  Outcome,
} from '@ptce/events';
import { StageHistory } from './stage-history.ts';

/** The stage history, with the decisions, meetings and activities the governance projections read. */
export class GovernanceHistory extends StageHistory {
  joinWithStatus(
    organisationId: string,
    category: Category,
    at: string,
    legalStatus?: LegalStatus,
  ): EventEnvelope {
    return this.log.add('MemberJoined', at, {
      organisationId,
      name: organisationId,
      category,
      ...(legalStatus ? { legalStatus } : {}),
    });
  }

  registerWithPilot(at: string, pilot: string, category: Category, legalStatus?: LegalStatus): EventEnvelope {
    return this.log.add('PtceRegistered', at, {
      name: 'P',
      territory: { name: 'T' },
      pilot: { organisationId: pilot, name: pilot, category, ...(legalStatus ? { legalStatus } : {}) },
    });
  }

  handOver(organisationId: string, previousPilotId: string, at: string): EventEnvelope {
    return this.log.add('PilotHandedOver', at, { organisationId, previousPilotId });
  }

  registerEntityAs(at: string, legalForm: LegalForm): EventEnvelope {
    return this.log.add('LegalEntityRegistered', at, { name: 'Entity', legalForm });
  }

  admitIn(organisationId: string, at: string, college?: string): EventEnvelope {
    return this.log.add('AssociateAdmitted', at, { organisationId, ...(college ? { college } : {}) });
  }

  withdraw(spaceId: string, organisationId: string, at: string): EventEnvelope {
    return this.log.add('MemberWithdrawnFromSpace', at, { spaceId, organisationId });
  }

  closeSpace(spaceId: string, at: string): EventEnvelope {
    return this.log.add('SpaceClosed', at, { spaceId });
  }

  meeting(spaceId: string, meetingId: string, attendees: string[], at: string): EventEnvelope {
    return this.log.add('MeetingHeld', at, { spaceId, meetingId, attendees });
  }

  decide(
    decisionId: string,
    spaceId: string,
    at: string,
    opts: {
      kind?: DecisionKind;
      step?: LegalStep;
      legalForm?: LegalForm;
      outcome?: Outcome;
      meetingId?: string;
      present?: string[];
    } = {},
  ): EventEnvelope {
    return this.log.add('DecisionRecorded', at, {
      decisionId,
      spaceId,
      ...(opts.meetingId ? { meetingId: opts.meetingId } : {}),
      present: opts.present ?? [],
      title: decisionId,
      kind: opts.kind ?? (opts.step ? 'shared_legal_structure' : 'general'),
      ...(opts.step ? { subject: { step: opts.step, legalForm: opts.legalForm ?? 'scic' } } : {}),
      vote: { for: 1, against: 0, abstain: 0 },
      rules: { quorum: 0.5, majority: 'simple' },
      enrolledCount: 1,
      outcome: opts.outcome ?? 'adopted',
    });
  }

  annul(decisionId: string, at: string): EventEnvelope {
    return this.log.add('DecisionAnnulled', at, { decisionId, reason: 'annulled' });
  }

  launch(activityId: string, carriers: string[], at: string): EventEnvelope {
    return this.log.add('ActivityLaunched', at, { activityId, name: activityId, carriers });
  }

  addCarrier(activityId: string, organisationId: string, at: string): EventEnvelope {
    return this.log.add('CarrierJoined', at, { activityId, organisationId });
  }

  endActivity(activityId: string, at: string): EventEnvelope {
    return this.log.add('ActivityEnded', at, { activityId });
  }
}
