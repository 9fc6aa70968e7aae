/**
 * A PTCE's past as an import file holds it: a registration, then year after year members joining,
 * a working group opened, members enrolled in it, its meetings and their decisions, activities,
 * recognitions — every line a write the API accepts, in the order a secretary would type them up.
 */
export interface HistoryLine {
  readonly method: 'POST';
  readonly path: string;
  readonly body: Record<string, unknown>;
}

const CATEGORIES = [
  'ess_enterprise',
  'enterprise',
  'local_authority',
  'training_body',
  'research_higher_education',
  'other_legal_person',
] as const;

/** `lines` writes of PTCE `ptceId`, from its registration on 1 January 2001. */
export function ptceHistory(ptceId: string, lines: number): HistoryLine[] {
  const history: HistoryLine[] = [];
  const at = (path: string) => `/v1/ptces/${ptceId}${path}`;
  const push = (path: string, body: Record<string, unknown>) => {
    if (history.length < lines) history.push({ method: 'POST', path, body });
  };
  push('/v1/ptces', {
    ptceId,
    name: `PTCE ${ptceId}`,
    territory: { name: 'Territoire de banc d’essai', department: '79', rural: true },
    pilot: { organisationId: 'pilote', name: 'Organisation pilote', category: 'ess_enterprise' },
    occurredAt: '2001-01-01',
    evidence: { source: 'compte rendu de la réunion de lancement' },
  });
  const joined: string[] = ['pilote'];
  for (let year = 2002; history.length < lines; year++) {
    let day = 0;
    // One write a day: every fact of a year is dated after the ones typed before it.
    const date = () => {
      const d = new Date(Date.UTC(year, 0, 1 + day++));
      return d.toISOString().slice(0, 10);
    };
    const spaceId = `gt-${year}`;
    const newcomers: string[] = [];
    for (let i = 0; i < 40; i++) {
      const organisationId = `org-${year}-${i}`;
      push(at('/members'), {
        organisationId,
        name: `Organisation ${year} n° ${i}`,
        category: CATEGORIES[(year + i) % CATEGORIES.length],
        occurredAt: date(),
      });
      newcomers.push(organisationId);
    }
    push(at('/spaces'), {
      spaceId,
      kind: year % 3 === 0 ? 'strategic' : 'operational',
      name: `Groupe de travail ${year}`,
      themes: ['mobility'],
      rules: { quorum: 0.5, majority: 'simple' },
      occurredAt: date(),
    });
    // This year's newcomers and ten members of earlier years.
    const enrolled = [...newcomers, ...joined.slice(-10)];
    for (const organisationId of enrolled)
      push(at(`/spaces/${spaceId}/members`), { organisationId, occurredAt: date() });
    for (let m = 0; m < 12; m++) {
      const meetingId = `${spaceId}-reunion-${m}`;
      const attendees = enrolled.slice(m * 3, m * 3 + 3);
      const meetingDay = date();
      push(at(`/spaces/${spaceId}/meetings`), { meetingId, attendees, occurredAt: meetingDay });
      push(at('/decisions'), {
        decisionId: `${spaceId}-decision-${m}`,
        spaceId,
        meetingId,
        title: `Orientation ${m} du groupe ${year}`,
        kind: 'priority',
        vote: { for: 2, against: 1, abstain: 0 },
        occurredAt: meetingDay,
      });
    }
    for (let a = 0; a < 6; a++) {
      push(at('/activities'), {
        activityId: `activite-${year}-${a}`,
        name: `Activité ${a} de ${year}`,
        theme: 'mobility',
        carriers: enrolled.slice(a * 2, a * 2 + 2),
        spaceId,
        occurredAt: date(),
      });
    }
    for (let r = 0; r < 4; r++) {
      push(at('/recognitions'), {
        programme: `Appel à projets ${year}-${r}`,
        grantor: 'État',
        occurredAt: date(),
      });
    }
    joined.push(...newcomers);
  }
  return history;
}
