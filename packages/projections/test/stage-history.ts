import { foldLedger, type Ledger } from '@ptce/domain';
import type { Category, EventEnvelope, SpaceKind } from '@ptce/events';
// The domain's own log builder: projections read the ledgers the domain folds.
import { LogBuilder } from '../../domain/test/fixtures.ts';

/** A PTCE's history told in the secretary's words, for the stage tests. */
export class StageHistory {
  readonly log: LogBuilder;

  constructor(ptceId = 'p') {
    this.log = new LogBuilder(ptceId);
  }

  register(at: string, pilot = 'pilot', category: Category = 'ess_enterprise'): EventEnvelope {
    return this.log.add('PtceRegistered', at, {
      name: 'P',
      territory: { name: 'T' },
      pilot: { organisationId: pilot, name: pilot, category },
    });
  }

  join(organisationId: string, category: Category, at: string): EventEnvelope {
    return this.log.add('MemberJoined', at, { organisationId, name: organisationId, category });
  }

  leave(organisationId: string, at: string): EventEnvelope {
    return this.log.add('MemberLeft', at, { organisationId });
  }

  openSpace(spaceId: string, kind: SpaceKind, at: string): EventEnvelope {
    return this.log.add('SpaceOpened', at, {
      spaceId,
      kind,
      name: spaceId,
      rules: { quorum: 0.5, majority: 'simple' },
    });
  }

  enrol(spaceId: string, organisationId: string, at: string): EventEnvelope {
    return this.log.add('MemberEnrolled', at, { spaceId, organisationId, role: 'member' });
  }

  registerEntity(at: string): EventEnvelope {
    return this.log.add('LegalEntityRegistered', at, { name: 'SCIC P', legalForm: 'scic' });
  }

  admitAssociate(organisationId: string, at: string): EventEnvelope {
    return this.log.add('AssociateAdmitted', at, { organisationId });
  }

  ledger(): Ledger {
    return foldLedger(this.log.events);
  }
}

/** `count` member ids sharing a prefix: m01, m02… */
export const memberIds = (prefix: string, count: number): string[] =>
  Array.from({ length: count }, (_, i) => `${prefix}${String(i + 1).padStart(2, '0')}`);
