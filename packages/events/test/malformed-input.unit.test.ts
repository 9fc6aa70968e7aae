import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  activityLaunchedSchema,
  decisionCorrectedSchema,
  decisionRecordedSchema,
  eventCatalog,
  InvalidEventDataError,
  meetingCorrectedSchema,
  meetingHeldSchema,
  nameSchema,
  parseEvent,
  reasonSchema,
} from '../src/catalog/index.ts';
import { freeTextSchema, isInputRuleIssue, lineTextSchema } from '../src/text.ts';
import {
  daysBetween,
  endInstant,
  isValidTime,
  parisDate,
  parisDay,
  startInstant,
  validTimeSchema,
} from '../src/valid-time.ts';

function issuesOf(schema: z.ZodType, value: unknown) {
  const result = schema.safeParse(value);
  return result.success
    ? []
    : result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

describe('malformed input (hostile-test defect 4)', () => {
  const refusedEverywhere = [
    ['\ud800', 'U+D800', 'surrogate'],
    ['\udfff', 'U+DFFF', 'surrogate'],
    ['\u0000', 'U+0000', 'control'],
    ['\u0007', 'U+0007', 'control'],
    ['\u001b', 'U+001B', 'control'],
    ['\u007f', 'U+007F', 'control'],
    ['\u0085', 'U+0085', 'control'],
    ['\u009f', 'U+009F', 'control'],
    ['\u202a', 'U+202A', 'bidirectional'],
    ['\u202e', 'U+202E', 'bidirectional'],
    ['\u2066', 'U+2066', 'bidirectional'],
    ['\u2069', 'U+2069', 'bidirectional'],
  ] as const;
  const refusedInNames = [
    ['\n', 'U+000A', 'control'],
    ['\t', 'U+0009', 'control'],
    ['\r', 'U+000D', 'control'],
    ['\u200b', 'U+200B', 'invisible'],
    ['\u200c', 'U+200C', 'invisible'],
    ['\u200d', 'U+200D', 'invisible'],
    ['\u2060', 'U+2060', 'invisible'],
    ['\ufeff', 'U+FEFF', 'invisible'],
    ['\u2028', 'U+2028', 'separator'],
  ] as const;

  it.each([...refusedEverywhere, ...refusedInNames])(
    'a name holding %j is refused, naming %s',
    (character, code, kind) => {
      const [issue, ...more] = issuesOf(nameSchema, `Coop${character}Val`);
      expect(more).toEqual([]);
      expect(issue?.message).toContain(code);
      expect(issue?.message).toContain(kind);
    },
  );

  it.each(refusedEverywhere)('free text holding %j is refused, naming %s', (character, code) => {
    expect(issuesOf(reasonSchema, `saisie ${character} en double`)[0]?.message).toContain(code);
    expect(issuesOf(freeTextSchema, character)[0]?.message).toContain(code);
  });

  it('free text keeps tabs, line breaks and the joiners of emoji; names keep any visible script', () => {
    expect(issuesOf(reasonSchema, 'ligne 1\r\nligne 2\tfin')).toEqual([]);
    expect(issuesOf(reasonSchema, 'famille 👨\u200d👩\u200d👧')).toEqual([]);
    expect(issuesOf(nameSchema, 'Coopérative 🌾 du Val — Ἀθῆναι — مجمع — 合作社')).toEqual([]);
    // Well-formed pairs are characters; only a half pair is refused.
    expect(issuesOf(lineTextSchema, '\ud83c\udf3e')).toEqual([]);
    expect(issuesOf(lineTextSchema, '\udf3e\ud83c')[0]?.message).toContain('U+DF3E');
  });

  it('invisible characters at the ends of a name are refused, not trimmed away', () => {
    expect(issuesOf(nameSchema, '\ufeffCoop')[0]?.message).toContain('U+FEFF');
    expect(nameSchema.parse('  Coop  ')).toBe('Coop');
  });

  const NUL = '\u0000';
  const base = { organisationId: 'cc', name: 'CC', category: 'local_authority' };
  // Every free-text, name, label and external id field of the catalog, each with a NUL.
  it.each([
    ['PtceRegistered', 'name', { name: NUL, territory: { name: 'T' }, pilot: { ...base } }],
    ['PtceRegistered', 'territory.name', { name: 'P', territory: { name: NUL }, pilot: { ...base } }],
    [
      'PtceRegistered',
      'territory.department',
      { name: 'P', territory: { name: 'T', department: `7${NUL}` }, pilot: { ...base } },
    ],
    ['PtceRegistered', 'pilot.name', { name: 'P', territory: { name: 'T' }, pilot: { ...base, name: NUL } }],
    ['MemberJoined', 'name', { ...base, name: `a${NUL}` }],
    ['MemberLeft', 'reason', { organisationId: 'cc', reason: NUL }],
    [
      'MembershipCorrected',
      'fields.name',
      { correctsEventId: 'e1', organisationId: 'cc', fields: { name: NUL }, reason: 'r' },
    ],
    [
      'MembershipCorrected',
      'correctsEventId',
      { correctsEventId: NUL, organisationId: 'cc', fields: {}, reason: 'r' },
    ],
    ['LegalEntityRegistered', 'registrationId', { name: 'S', legalForm: 'scic', registrationId: NUL }],
    ['LegalEntityCorrected', 'reason', { correctsEventId: 'e1', fields: {}, reason: `r${NUL}` }],
    ['AssociateAdmitted', 'college', { organisationId: 'cc', college: NUL }],
    ['RecognitionGranted', 'programme', { programme: '\ud800', grantor: 'État' }],
    ['RecognitionGranted', 'grantor', { programme: 'P', grantor: NUL }],
    ['EventRetracted', 'retractedType', { retractedEventId: 'e1', retractedType: NUL, reason: 'r' }],
    [
      'SpaceOpened',
      'themes.1',
      {
        spaceId: 's',
        kind: 'operational',
        name: 'S',
        themes: ['a', NUL],
        rules: { quorum: 0.5, majority: 'simple' },
      },
    ],
    [
      'MeetingHeld',
      'minutes.uri',
      {
        spaceId: 's',
        meetingId: 'm',
        attendees: ['a'],
        minutes: { sha256: 'a'.repeat(64), uri: `https://x.test/${NUL}` },
      },
    ],
    ['ActivityLaunched', 'theme', { activityId: 'x', name: 'X', theme: NUL, carriers: ['a'] }],
    ['ActivityEnded', 'reason', { activityId: 'x', reason: '\u202e' }],
    ['DecisionAnnulled', 'reason', { decisionId: 'd', reason: NUL }],
  ])('%s: a NUL or half pair in %s is refused there', (type, path, data) => {
    const issues = issuesOf(eventCatalog[type as keyof typeof eventCatalog].schema, data);
    expect(issues).toEqual([{ path, message: expect.stringMatching(/U\+(0000|D800|202E)/) }]);
  });

  it('stored events that predate the text rules are read as stored, not dropped from the history', () => {
    const stored = parseEvent({
      type: 'MemberJoined',
      schemaVersion: 1,
      data: { organisationId: 'cc', name: 'C\u200bC', category: 'local_authority' },
    });
    expect(stored.data).toEqual({ organisationId: 'cc', name: 'C\u200bC', category: 'local_authority' });
    const meeting = parseEvent({
      type: 'MeetingHeld',
      schemaVersion: 1,
      data: { spaceId: 's', meetingId: 'm', attendees: ['a', 'a'] },
    });
    expect(meeting.data).toMatchObject({ attendees: ['a', 'a'] });
    // Any other fault still makes the event invalid.
    expect(() =>
      parseEvent({
        type: 'MemberJoined',
        schemaVersion: 1,
        data: { organisationId: 'cc', name: 'C\u200bC', category: 'nobody' },
      }),
    ).toThrow(InvalidEventDataError);
  });

  it('the rules on input mark their issues, and only theirs', () => {
    const result = nameSchema.safeParse('a\u0000');
    expect(result.success).toBe(false);
    expect(result.error?.issues.every(isInputRuleIssue)).toBe(true);
    expect(nameSchema.safeParse('').error?.issues.some(isInputRuleIssue)).toBe(false);
  });
});

describe('malformed input (hostile-test defect 8a)', () => {
  it.each([
    [meetingHeldSchema, { spaceId: 's', meetingId: 'm', attendees: Array(500).fill('org-a') }, 'attendees'],
    [
      meetingCorrectedSchema,
      {
        correctsEventId: 'e',
        spaceId: 's',
        meetingId: 'm',
        fields: { attendees: ['a', 'b', 'a'] },
        reason: 'r',
      },
      'fields.attendees',
    ],
    [activityLaunchedSchema, { activityId: 'x', name: 'X', carriers: ['a', 'b', 'b'] }, 'carriers'],
    [
      decisionRecordedSchema,
      {
        decisionId: 'd',
        spaceId: 's',
        present: ['a', 'a'],
        title: 'T',
        kind: 'general',
        vote: { for: 1, against: 0, abstain: 0 },
        rules: { quorum: 0.5, majority: 'simple' },
        enrolledCount: 2,
        outcome: 'adopted',
      },
      'present',
    ],
    [
      decisionCorrectedSchema,
      {
        correctsEventId: 'e',
        decisionId: 'd',
        fields: { present: ['b', 'a', 'b'] },
        reason: 'r',
        rules: { quorum: 0.5, majority: 'simple' },
        enrolledCount: 2,
        outcome: 'adopted',
      },
      'fields.present',
    ],
  ] as const)('%#: an organisation listed twice is refused at %s, named', (schema, data, path) => {
    const issues = issuesOf(schema as z.ZodType, data);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toBe(path);
    expect(issues[0]?.message).toMatch(/^lists (org-a|a|b) more than once/);
  });
});

describe('malformed input (hostile-test defect 8h)', () => {
  it.each(['0000-01-01', '0001-01-01', '0050-06-15', '0099-12-31', '0048-02-29', '0000-02-29'])(
    '%s is a real calendar date',
    (date) => {
      expect(isValidTime(date)).toBe(true);
      expect(isValidTime(`${date}T12:00:00Z`)).toBe(true);
    },
  );

  it.each(['0050-02-29', '0099-02-30', '0000-13-01', '0010-04-31'])('%s is not', (date) => {
    expect(isValidTime(date)).toBe(false);
    expect(issuesOf(validTimeSchema, date)[0]?.message).toMatch(/real calendar date/);
  });

  it('a real date before 1900 is refused as too old, not as unreal', () => {
    for (const date of ['0050-06-15', '0202-01-01', '1899-12-31', '0050-06-15T10:00:00+01:00']) {
      const [issue, ...more] = issuesOf(validTimeSchema, date);
      expect(more).toEqual([]);
      expect(issue?.message).toMatch(/before 1900/);
      expect(issue?.message).not.toMatch(/real calendar date/);
    }
    expect(issuesOf(validTimeSchema, '1900-01-01')).toEqual([]);
  });

  it('years 0 to 99 are not read as 1900 to 1999', () => {
    const noon = new Date(Date.UTC(2000, 0, 1, 12));
    noon.setUTCFullYear(50, 5, 15);
    expect(startInstant('0050-06-15T12:00:00Z')).toBe(noon.getTime());
    // Paris kept its local mean time then, 9 min 21 s ahead of UTC.
    expect(new Date(startInstant('0050-06-15')).toISOString()).toBe('0050-06-14T23:50:39.000Z');
    expect(new Date(endInstant('0000-12-31')).toISOString()).toBe('0000-12-31T23:50:38.999Z');
    expect(parisDate(startInstant('0000-01-01T00:00:00Z'))).toBe('0000-01-01');
  });

  it('parisDay and daysBetween count Paris calendar days', () => {
    expect(parisDay('2020-06-01')).toBe('2020-06-01');
    expect(parisDay('2020-06-01T22:30:00Z')).toBe('2020-06-02');
    expect(daysBetween('2020-06-01', '2020-09-01')).toBe(92);
    expect(daysBetween('2021-03-27', '2021-03-29')).toBe(2);
    expect(daysBetween('2020-06-02', '2020-06-01')).toBe(-1);
  });
});
