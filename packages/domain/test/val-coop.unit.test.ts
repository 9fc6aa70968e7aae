import { describe, expect, it } from 'vitest';
import {
  type DecideContext,
  type DecisionsCommand,
  DomainError,
  decideDecisions,
  decideMembership,
  decideWorkingGroups,
  type EventToAppend,
  evolveLedger,
  initialLedger,
  type Ledger,
  type LedgerState,
  type MembershipCommand,
  replayLedger,
  type WorkingGroupsCommand,
} from '../src/index.ts';
import { LogBuilder } from './fixtures.ts';

type Command = MembershipCommand | WorkingGroupsCommand | DecisionsCommand;

const asOf = (ledger: Ledger, at: string): LedgerState => replayLedger(ledger, { kind: 'asOf', at });
const members = (ledger: Ledger, at: string) => [...asOf(ledger, at).members.keys()];

const MEMBERSHIP = new Set([
  'RegisterPtce',
  'JoinMember',
  'LeaveMember',
  'CorrectMembership',
  'HandOverPilot',
  'RegisterLegalEntity',
  'CorrectLegalEntity',
  'AdmitAssociate',
  'WithdrawAssociate',
  'GrantRecognition',
  'RetractEvent',
]);
const DECISIONS = new Set(['RecordDecision', 'CorrectDecision', 'AnnulDecision']);

function decide(command: Command, ledger: Ledger, ctx: DecideContext): EventToAppend[] {
  if (MEMBERSHIP.has(command.type))
    return decideMembership(command as Parameters<typeof decideMembership>[0], ledger, ctx);
  if (DECISIONS.has(command.type))
    return decideDecisions(command as Parameters<typeof decideDecisions>[0], ledger, ctx);
  return decideWorkingGroups(command as Parameters<typeof decideWorkingGroups>[0], ledger, ctx);
}

/** The val-coop scenario's writes, as the services would turn its request bodies into commands. */
const steps: (Command | { mark: string } | { refused: Command; code: string; status: number })[] = [
  {
    type: 'RegisterPtce',
    ptceId: 'val-coop',
    name: 'Val de Sèvre Coopérations',
    territory: { name: 'Pays du Val (fictif)', department: '79', rural: true },
    pilot: { organisationId: 'asso-mobilite', name: 'Mobilité Solidaire du Val', category: 'ess_enterprise' },
    occurredAt: '2017-03-01',
    evidence: { source: 'compte rendu de la réunion de lancement' },
  },
  {
    type: 'JoinMember',
    organisationId: 'cc-val',
    name: 'Communauté de communes du Val',
    category: 'local_authority',
    occurredAt: '2017-06-15',
  },
  {
    type: 'OpenSpace',
    spaceId: 'gt-mobilite',
    kind: 'operational',
    name: 'Groupe de travail mobilité rurale',
    themes: ['mobility'],
    rules: { quorum: 0.5, majority: 'simple' },
    occurredAt: '2017-09-01',
  },
  { type: 'EnrolMember', spaceId: 'gt-mobilite', organisationId: 'asso-mobilite', occurredAt: '2017-09-01' },
  { type: 'EnrolMember', spaceId: 'gt-mobilite', organisationId: 'cc-val', occurredAt: '2017-09-01' },
  {
    type: 'JoinMember',
    organisationId: 'lycee-agricole',
    name: 'Lycée agricole du Val',
    category: 'training_body',
    occurredAt: '2018-01-01',
  },
  { mark: 'beforeCorrection' },
  {
    type: 'CorrectMembership',
    organisationId: 'lycee-agricole',
    fields: { joinedAt: '2018-01-10' },
    reason: "date corrigée d'après la convention signée",
  },
  {
    type: 'JoinMember',
    organisationId: 'epicerie-coop',
    name: 'Épicerie coopérative du Val',
    category: 'ess_enterprise',
    occurredAt: '2018-01-10',
  },
  {
    type: 'JoinMember',
    organisationId: 'garage-martin',
    name: 'Garage Martin SARL',
    category: 'enterprise',
    occurredAt: '2018-01-10',
  },
  {
    type: 'OpenSpace',
    spaceId: 'copil',
    kind: 'strategic',
    name: 'Comité de pilotage',
    rules: { quorum: 0.5, majority: 'simple' },
    occurredAt: '2018-02-01',
  },
  { type: 'EnrolMember', spaceId: 'copil', organisationId: 'asso-mobilite', occurredAt: '2018-02-01' },
  { type: 'EnrolMember', spaceId: 'copil', organisationId: 'epicerie-coop', occurredAt: '2018-02-01' },
  { type: 'EnrolMember', spaceId: 'gt-mobilite', organisationId: 'garage-martin', occurredAt: '2018-02-15' },
  { type: 'EnrolMember', spaceId: 'gt-mobilite', organisationId: 'lycee-agricole', occurredAt: '2018-02-15' },
  {
    type: 'OpenSpace',
    spaceId: 'gt-alimentation',
    kind: 'operational',
    name: 'Groupe de travail alimentation locale',
    themes: ['food'],
    occurredAt: '2018-02-15',
  },
  {
    type: 'EnrolMember',
    spaceId: 'gt-alimentation',
    organisationId: 'epicerie-coop',
    occurredAt: '2018-02-15',
  },
  {
    type: 'EnrolMember',
    spaceId: 'gt-alimentation',
    organisationId: 'asso-mobilite',
    occurredAt: '2018-02-15',
  },
  {
    type: 'EnrolMember',
    spaceId: 'gt-alimentation',
    organisationId: 'lycee-agricole',
    occurredAt: '2018-02-15',
  },
  {
    type: 'HoldMeeting',
    spaceId: 'copil',
    meetingId: 'copil-2018-03-01',
    attendees: ['asso-mobilite', 'epicerie-coop'],
    occurredAt: '2018-03-01',
  },
  {
    type: 'RecordDecision',
    decisionId: 'priorites-territoriales',
    spaceId: 'copil',
    meetingId: 'copil-2018-03-01',
    title: 'Priorités',
    kind: 'priority',
    vote: { for: 2, against: 0, abstain: 0 },
    occurredAt: '2018-03-01',
  },
  {
    type: 'LaunchActivity',
    activityId: 'garage-solidaire',
    name: 'Garage solidaire',
    theme: 'mobility',
    carriers: ['asso-mobilite', 'garage-martin'],
    spaceId: 'gt-mobilite',
    occurredAt: '2018-06-01',
  },
  {
    type: 'LaunchActivity',
    activityId: 'magasin-partage',
    name: 'Magasin partagé',
    theme: 'food',
    carriers: ['epicerie-coop', 'lycee-agricole'],
    spaceId: 'gt-alimentation',
    occurredAt: '2018-09-01',
  },
  {
    type: 'LaunchActivity',
    activityId: 'cjs',
    name: 'Coopérative jeunesse de services',
    theme: 'youth',
    carriers: ['lycee-agricole', 'cc-val', 'asso-mobilite'],
    occurredAt: '2019-01-20',
  },
  {
    type: 'OpenSpace',
    spaceId: 'conseil',
    kind: 'governance',
    name: 'Conseil de coopération',
    rules: { quorum: 0.5, majority: 'two_thirds' },
    occurredAt: '2019-03-01',
  },
  ...['asso-mobilite', 'cc-val', 'epicerie-coop', 'garage-martin', 'lycee-agricole'].map(
    (organisationId): Command => ({
      type: 'EnrolMember',
      spaceId: 'conseil',
      organisationId,
      occurredAt: '2019-03-01',
    }),
  ),
  {
    type: 'JoinMember',
    organisationId: 'boulangerie-dupont',
    name: 'Boulangerie Dupont',
    category: 'enterprise',
    occurredAt: '2019-09-01',
  },
  { type: 'EnrolMember', spaceId: 'conseil', organisationId: 'boulangerie-dupont', occurredAt: '2019-10-01' },
  {
    type: 'HoldMeeting',
    spaceId: 'conseil',
    meetingId: 'conseil-2020-02-01',
    attendees: ['asso-mobilite', 'cc-val', 'epicerie-coop', 'garage-martin', 'lycee-agricole'],
    occurredAt: '2020-02-01',
  },
  {
    type: 'RecordDecision',
    decisionId: 'etude-scic',
    spaceId: 'conseil',
    meetingId: 'conseil-2020-02-01',
    title: 'Étude SCIC',
    kind: 'shared_legal_structure',
    subject: { step: 'study_opened', legalForm: 'scic' },
    vote: { for: 5, against: 0, abstain: 0 },
    occurredAt: '2020-02-01',
  },
  {
    type: 'HoldMeeting',
    spaceId: 'conseil',
    meetingId: 'conseil-2020-06-01',
    attendees: ['asso-mobilite', 'cc-val'],
    occurredAt: '2020-06-01',
  },
  {
    type: 'RecordDecision',
    decisionId: 'budget-2020',
    spaceId: 'conseil',
    meetingId: 'conseil-2020-06-01',
    title: 'Budget 2020',
    kind: 'budget',
    vote: { for: 2, against: 0, abstain: 0 },
    occurredAt: '2020-06-01',
  },
  {
    type: 'HoldMeeting',
    spaceId: 'conseil',
    meetingId: 'conseil-2020-11-15',
    attendees: [
      'asso-mobilite',
      'cc-val',
      'epicerie-coop',
      'garage-martin',
      'lycee-agricole',
      'boulangerie-dupont',
    ],
    occurredAt: '2020-11-15',
  },
  {
    type: 'RecordDecision',
    decisionId: 'statuts-scic',
    spaceId: 'conseil',
    meetingId: 'conseil-2020-11-15',
    title: 'Statuts',
    kind: 'shared_legal_structure',
    subject: { step: 'statutes_adopted', legalForm: 'scic' },
    vote: { for: 5, against: 1, abstain: 0 },
    occurredAt: '2020-11-15',
  },
  {
    type: 'RecordDecision',
    decisionId: 'extension',
    spaceId: 'conseil',
    meetingId: 'conseil-2020-11-15',
    title: 'Extension',
    kind: 'general',
    vote: { for: 2, against: 3, abstain: 1 },
    occurredAt: '2020-11-15',
  },
  {
    type: 'RegisterLegalEntity',
    name: 'SCIC Val Coopérations',
    legalForm: 'scic',
    registrationId: '000000000',
    occurredAt: '2021-01-05',
  },
  {
    type: 'AdmitAssociate',
    organisationId: 'asso-mobilite',
    college: 'producteurs',
    occurredAt: '2021-01-05',
  },
  {
    type: 'AdmitAssociate',
    organisationId: 'epicerie-coop',
    college: 'producteurs',
    occurredAt: '2021-01-05',
  },
  { type: 'AdmitAssociate', organisationId: 'cc-val', college: 'collectivites', occurredAt: '2021-01-05' },
  {
    type: 'AdmitAssociate',
    organisationId: 'garage-martin',
    college: 'partenaires',
    occurredAt: '2021-03-01',
  },
  {
    type: 'AdmitAssociate',
    organisationId: 'lycee-agricole',
    college: 'partenaires',
    occurredAt: '2021-03-01',
  },
  {
    type: 'GrantRecognition',
    programme: 'AMI PTCE émergents — phase 1',
    grantor: 'État',
    occurredAt: '2021-09-15',
  },
  {
    refused: {
      type: 'JoinMember',
      organisationId: 'cc-val',
      name: 'CC',
      category: 'local_authority',
      occurredAt: '2021-10-01',
    },
    code: 'already_member',
    status: 409,
  },
  {
    refused: { type: 'EnrolMember', spaceId: 'conseil', organisationId: 'inconnu', occurredAt: '2021-10-01' },
    code: 'not_a_member_at_date',
    status: 422,
  },
  {
    refused: {
      type: 'JoinMember',
      organisationId: 'avant-tout',
      name: 'Trop tôt',
      category: 'enterprise',
      occurredAt: '2016-01-01',
    },
    code: 'before_registration',
    status: 422,
  },
  {
    refused: {
      type: 'RecordDecision',
      decisionId: 'vote-impossible',
      spaceId: 'conseil',
      title: 'Vote impossible',
      kind: 'general',
      present: ['asso-mobilite'],
      vote: { for: 3, against: 0, abstain: 0 },
      occurredAt: '2021-10-01',
    },
    code: 'tally_exceeds_present',
    status: 422,
  },
];

describe('val-coop through the deciders', () => {
  const log = new LogBuilder('val-coop', Date.parse('2024-01-01T00:00:00Z'));
  let ledger = initialLedger();
  const marks = new Map<string, Ledger>();
  const ctx = { now: Date.parse('2024-06-01T00:00:00Z') };
  for (const step of steps) {
    if ('mark' in step) {
      marks.set(step.mark, ledger);
      continue;
    }
    if ('refused' in step) {
      let err: unknown;
      try {
        decide(step.refused, ledger, ctx);
      } catch (e) {
        err = e;
      }
      it(`refuses ${step.refused.type} with ${step.code}`, () => {
        expect(err).toBeInstanceOf(DomainError);
        expect([(err as DomainError).code, (err as DomainError).status]).toEqual([step.code, step.status]);
      });
      continue;
    }
    for (const e of decide(step, ledger, ctx))
      ledger = evolveLedger(ledger, log.add(e.type, e.occurredAt, { ...e.data }));
  }

  it('derives the scenario outcomes', () => {
    expect(
      Object.fromEntries(
        [...asOf(ledger, '2021-12-31').decisions.values()].map((d) => [d.decisionId, d.outcome]),
      ),
    ).toEqual({
      'priorites-territoriales': 'adopted',
      'etude-scic': 'adopted',
      'budget-2020': 'no_quorum',
      'statuts-scic': 'adopted',
      extension: 'rejected',
    });
  });

  it('knows the lycée from 2018-01-01 before the correction, from 2018-01-10 after', () => {
    const before = marks.get('beforeCorrection')!;
    expect(members(before, '2018-01-05')).toContain('lycee-agricole');
    expect(members(ledger, '2018-01-05')).not.toContain('lycee-agricole');
    expect(members(ledger, '2018-01-10')).toHaveLength(5);
  });

  it('counts the associates', () => {
    const associates = (at: string) => {
      const state = asOf(ledger, at);
      return [...state.associates.keys()].filter((o) => state.members.has(o));
    };
    expect(associates('2021-01-05')).toHaveLength(3);
    expect(associates('2021-03-01')).toHaveLength(5);
    expect(members(ledger, '2021-01-05')).toHaveLength(6);
  });
});
