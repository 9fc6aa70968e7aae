import { createHash } from 'node:crypto';
import { type Category, categorySchema, type LegalForm, parisDay } from '@ptce/events';
import {
  type CriterionId,
  type EligibilityConditionId,
  LEGAL_PHASES,
  type LegalPhase,
  STAGES,
  type Stage,
  type StageTimelineEntry,
} from '@ptce/projections';
import { Html, html } from './html.ts';
import type { ReportLanguage, SignedSnapshot } from './schemas.ts';

/*
 * The funders' report: one HTML page drawn from a signed snapshot and the stage timeline of the
 * same ledger. It loads nothing (no script, font, stylesheet or image from anywhere: the server
 * may have no internet, and a funder may keep the page offline), its one stylesheet is inline and
 * allowed by its hash alone, and every chart has a table saying the same for whoever cannot see it.
 * It names no natural person: the snapshot it is drawn from holds none, and the timeline gives
 * only stages, days and event types.
 */

type TimelineEntry = StageTimelineEntry;

export interface ReportInput {
  readonly signed: SignedSnapshot;
  /** The stage timeline of the ledger the snapshot was computed on. */
  readonly timeline: readonly TimelineEntry[];
  readonly lang: ReportLanguage;
  /** Scheme and host the reader reached the page at: where the JSON snapshot and the keys are too. */
  readonly origin: string;
}

interface Texts {
  readonly locale: string;
  readonly title: string;
  readonly intro: string;
  readonly asOf: string;
  readonly position: string;
  readonly rulesVersion: string;
  readonly generatedAt: string;
  readonly stageHeading: string;
  readonly currentStage: string;
  readonly since: string;
  readonly stalled: string;
  readonly notStalled: string;
  readonly criteriaCaption: string;
  readonly criterion: string;
  readonly value: string;
  readonly threshold: string;
  readonly holds: string;
  readonly yes: string;
  readonly no: string;
  readonly unknown: string;
  readonly timelineHeading: string;
  readonly timelineChart: string;
  readonly timelineDescription: string;
  readonly timelineCaption: string;
  readonly noTimeline: string;
  readonly stage: string;
  readonly from: string;
  readonly to: string;
  readonly stillHeld: string;
  readonly change: string;
  readonly first: string;
  readonly rise: string;
  readonly fallBack: string;
  readonly cause: string;
  readonly asOfMarker: string;
  readonly participationHeading: string;
  readonly participationChart: string;
  readonly participationDescription: string;
  readonly participationCaption: string;
  readonly category: string;
  readonly members: string;
  readonly memberShare: string;
  readonly steeringSeats: string;
  readonly seatShare: string;
  readonly representationRatio: string;
  readonly attendanceRate: string;
  readonly steeringCoverage: string;
  readonly categoryCoverage: string;
  readonly blauMembership: string;
  readonly blauSteering: string;
  readonly window: string;
  readonly activeMembers: string;
  readonly naturalPersons: string;
  readonly noParticipation: string;
  readonly legalHeading: string;
  readonly legalPhase: string;
  readonly legalForm: string;
  readonly entity: string;
  readonly noEntity: string;
  readonly associates: string;
  readonly legalCaption: string;
  readonly step: string;
  readonly reachedOn: string;
  readonly notReached: string;
  readonly eligibilityHeading: string;
  readonly eligible: string;
  readonly notEligible: string;
  readonly eligibilityCaption: string;
  readonly condition: string;
  readonly detail: string;
  readonly indicative: string;
  readonly signatureHeading: string;
  readonly algorithm: string;
  readonly keyId: string;
  readonly signatureValue: string;
  readonly verifyHeading: string;
  readonly verifyFetch: string;
  readonly verifyRun: string;
  readonly verifyByHand: string;
  readonly privacy: string;
  readonly stages: Readonly<Record<Stage, string>>;
  readonly criteria: Readonly<Record<CriterionId, string>>;
  readonly categories: Readonly<Record<Category, string>>;
  readonly phases: Readonly<Record<LegalPhase, string>>;
  readonly forms: Readonly<Record<LegalForm, string>>;
  readonly conditions: Readonly<Record<EligibilityConditionId, string>>;
}

const TEXTS: Readonly<Record<ReportLanguage, Texts>> = {
  fr: {
    locale: 'fr-FR',
    title: 'Rapport aux financeurs',
    intro:
      'Indicateurs du PTCE tirés de son registre de gouvernance, signés : la signature porte sur l’instantané JSON dont cette page est tirée.',
    asOf: 'Date des indicateurs',
    position: 'Position dans le journal',
    rulesVersion: 'Version des règles d’étape',
    generatedAt: 'Page produite le',
    stageHeading: 'Étape de création',
    currentStage: 'Étape atteinte :',
    since: 'depuis le',
    stalled: 'En panne : aucun membre n’a rejoint le pôle depuis trop longtemps.',
    notStalled: 'Pas en panne.',
    criteriaCaption: 'Critères de l’étape, mesurés et comparés à leur seuil',
    criterion: 'Critère',
    value: 'Valeur',
    threshold: 'Seuil',
    holds: 'Rempli',
    yes: 'oui',
    no: 'non',
    unknown: 'inconnu',
    timelineHeading: 'Chronologie des étapes',
    timelineChart: 'Étapes du PTCE au fil des années',
    timelineDescription:
      'Une barre par période passée à une étape, de bas en haut de l’impulsion individuelle au PTCE effectif ; un recul est tracé en rouge, en pointillé, marqué d’une flèche vers le bas.',
    timelineCaption: 'Chronologie des étapes (la même que le graphique)',
    noTimeline: 'Aucune étape n’était atteinte à cette date.',
    stage: 'Étape',
    from: 'Du',
    to: 'Au',
    stillHeld: 'en cours',
    change: 'Évolution',
    first: 'première étape',
    rise: '↑ progression',
    fallBack: '↓ recul',
    cause: 'Fait à l’origine',
    asOfMarker: 'date des indicateurs',
    participationHeading: 'Participation par catégorie de membres',
    participationChart: 'Part des membres et part des sièges de pilotage, par catégorie',
    participationDescription:
      'Pour chaque catégorie, la barre du haut est sa part des membres actifs, celle du bas sa part des sièges dans les espaces de pilotage.',
    participationCaption: 'Participation par catégorie (la même que le graphique)',
    category: 'Catégorie',
    members: 'Membres',
    memberShare: 'Part des membres',
    steeringSeats: 'Sièges de pilotage',
    seatShare: 'Part des sièges',
    representationRatio: 'Ratio de représentation',
    attendanceRate: 'Taux de présence',
    steeringCoverage: 'Membres présents dans le pilotage',
    categoryCoverage: 'Catégories présentes dans le pilotage',
    blauMembership: 'Diversité des membres (indice de Blau)',
    blauSteering: 'Diversité du pilotage (indice de Blau)',
    window: 'Présence aux réunions mesurée du',
    activeMembers: 'Membres actifs',
    naturalPersons: 'dont personnes physiques (comptées, jamais nommées)',
    noParticipation: 'Aucun membre actif à cette date.',
    legalHeading: 'Transition juridique',
    legalPhase: 'Phase atteinte',
    legalForm: 'Forme juridique',
    entity: 'Structure juridique partagée',
    noEntity: 'aucune immatriculée',
    associates: 'Associés',
    legalCaption: 'Étapes vers une structure juridique partagée',
    step: 'Étape',
    reachedOn: 'Atteinte le',
    notReached: 'non atteinte',
    eligibilityHeading: 'Éligibilité aux appels à projets de l’État',
    eligible: 'Toutes les conditions sont remplies.',
    notEligible: 'Au moins une condition n’est pas remplie.',
    eligibilityCaption: 'Conditions d’éligibilité (décret n° 2015-431)',
    condition: 'Condition',
    detail: 'Détail (en anglais)',
    indicative: 'Indicatif : ce que le registre enregistre, non ce qu’un jury jugera, ni un avis juridique.',
    signatureHeading: 'Signature et vérification',
    algorithm: 'Algorithme',
    keyId: 'Identifiant de la clé',
    signatureValue: 'Signature (base64url)',
    verifyHeading: 'Vérifier la signature',
    verifyFetch: 'Télécharger l’instantané JSON signé (avec votre jeton d’accès) dans un fichier FILE :',
    verifyRun: 'Le vérifier avec les clés publiques du serveur :',
    verifyByHand:
      'Ou à la main : la signature Ed25519 porte sur le JSON canonique (RFC 8785) du champ snapshot, vérifiée par la clé publique dont le kid est l’identifiant ci-dessus, publiée à l’adresse :',
    privacy:
      'Aucune personne physique n’est nommée dans ce rapport : les personnes physiques membres sont comptées, jamais nommées.',
    stages: {
      not_started: 'Non démarré',
      individual_impulse: 'Impulsion individuelle',
      divided_groups: 'Groupes divisés',
      collective_group: 'Groupe collectif',
      effective: 'PTCE effectif',
    },
    criteria: {
      min_partners: 'Partenaires hors pilote',
      all_categories_steering: 'Catégories représentées dans le pilotage',
      steering_share: 'Part des membres dans le pilotage',
      entity_registered: 'Structure juridique partagée immatriculée',
      associate_share: 'Part des membres associés',
    },
    categories: {
      ess_enterprise: 'Entreprises de l’ESS',
      enterprise: 'Entreprises hors ESS',
      local_authority: 'Collectivités territoriales',
      research_higher_education: 'Recherche et enseignement supérieur',
      training_body: 'Organismes de formation',
      other_legal_person: 'Autres personnes morales',
      natural_person: 'Personnes physiques',
    },
    phases: {
      none: 'Aucune',
      exploring: 'Étude ouverte',
      form_chosen: 'Forme choisie',
      statutes_adopted: 'Statuts adoptés',
      registered: 'Structure immatriculée',
    },
    forms: {
      scic: 'SCIC',
      association: 'Association',
      sas: 'SAS',
      sarl: 'SARL',
      scop: 'SCOP',
      gie: 'GIE',
      endowment_fund: 'Fonds de dotation',
      foundation: 'Fondation',
      other: 'Autre',
    },
    conditions: {
      private_law_carrier: 'Une personne morale de droit privé porte le PTCE',
      three_legal_persons: 'Au moins trois membres personnes morales',
      ess_enterprise_member: 'Au moins une entreprise de l’ESS',
      enterprise_member: 'Au moins une entreprise hors ESS',
      other_category_member: 'Au moins un membre d’une autre catégorie',
    },
  },
  en: {
    locale: 'en-GB',
    title: 'Report for funders',
    intro:
      'Indicators of the PTCE drawn from its governance ledger, signed: the signature covers the JSON snapshot this page is drawn from.',
    asOf: 'Indicators as of',
    position: 'Position in the log',
    rulesVersion: 'Stage rules version',
    generatedAt: 'Page made on',
    stageHeading: 'Creation stage',
    currentStage: 'Stage reached:',
    since: 'since',
    stalled: 'Stalled: no member has joined for too long.',
    notStalled: 'Not stalled.',
    criteriaCaption: "The stage's criteria, measured and compared with their threshold",
    criterion: 'Criterion',
    value: 'Value',
    threshold: 'Threshold',
    holds: 'Holds',
    yes: 'yes',
    no: 'no',
    unknown: 'unknown',
    timelineHeading: 'Stage timeline',
    timelineChart: "The PTCE's stages over the years",
    timelineDescription:
      'One bar per period spent at a stage, from individual impulse at the bottom to effective PTCE at the top; a fall-back is drawn in red, dashed, marked with a downward arrow.',
    timelineCaption: 'Stage timeline (the same as the chart)',
    noTimeline: 'No stage had been reached by that date.',
    stage: 'Stage',
    from: 'From',
    to: 'To',
    stillHeld: 'ongoing',
    change: 'Change',
    first: 'first stage',
    rise: '↑ step up',
    fallBack: '↓ fall-back',
    cause: 'Caused by',
    asOfMarker: 'indicators date',
    participationHeading: 'Participation by member category',
    participationChart: 'Share of members and share of steering seats, by category',
    participationDescription:
      'For each category, the upper bar is its share of active members, the lower one its share of the seats in steering spaces.',
    participationCaption: 'Participation by category (the same as the chart)',
    category: 'Category',
    members: 'Members',
    memberShare: 'Share of members',
    steeringSeats: 'Steering seats',
    seatShare: 'Share of seats',
    representationRatio: 'Representation ratio',
    attendanceRate: 'Attendance rate',
    steeringCoverage: 'Members taking part in steering',
    categoryCoverage: 'Categories taking part in steering',
    blauMembership: 'Diversity of members (Blau index)',
    blauSteering: 'Diversity of steering (Blau index)',
    window: 'Meeting attendance measured from',
    activeMembers: 'Active members',
    naturalPersons: 'of whom natural persons (counted, never named)',
    noParticipation: 'No active member on that date.',
    legalHeading: 'Legal transition',
    legalPhase: 'Phase reached',
    legalForm: 'Legal form',
    entity: 'Shared legal entity',
    noEntity: 'none registered',
    associates: 'Associates',
    legalCaption: 'Steps towards a shared legal entity',
    step: 'Step',
    reachedOn: 'Reached on',
    notReached: 'not reached',
    eligibilityHeading: "Eligibility for the State's calls for projects",
    eligible: 'Every condition holds.',
    notEligible: 'At least one condition does not hold.',
    eligibilityCaption: 'Eligibility conditions (decree no. 2015-431)',
    condition: 'Condition',
    detail: 'Detail',
    indicative: 'Indicative: what the ledger records, not what a jury will judge, nor legal advice.',
    signatureHeading: 'Signature and verification',
    algorithm: 'Algorithm',
    keyId: 'Key id',
    signatureValue: 'Signature (base64url)',
    verifyHeading: 'Verifying the signature',
    verifyFetch: 'Download the signed JSON snapshot (with your access token) into a file FILE:',
    verifyRun: "Verify it with the server's public keys:",
    verifyByHand:
      'Or by hand: the Ed25519 signature covers the canonical JSON (RFC 8785) of the snapshot field, verified with the public key whose kid is the key id above, published at:',
    privacy:
      'No natural person is named in this report: members who are natural persons are counted, never named.',
    stages: {
      not_started: 'Not started',
      individual_impulse: 'Individual impulse',
      divided_groups: 'Divided groups',
      collective_group: 'Collective group',
      effective: 'Effective PTCE',
    },
    criteria: {
      min_partners: 'Partners besides the pilot',
      all_categories_steering: 'Categories present in steering',
      steering_share: 'Share of members in steering',
      entity_registered: 'Shared legal entity registered',
      associate_share: 'Share of members who are associates',
    },
    categories: {
      ess_enterprise: 'ESS enterprises',
      enterprise: 'Enterprises outside the ESS',
      local_authority: 'Local authorities',
      research_higher_education: 'Research and higher education',
      training_body: 'Training bodies',
      other_legal_person: 'Other legal persons',
      natural_person: 'Natural persons',
    },
    phases: {
      none: 'None',
      exploring: 'Study opened',
      form_chosen: 'Form chosen',
      statutes_adopted: 'Statutes adopted',
      registered: 'Entity registered',
    },
    forms: {
      scic: 'SCIC',
      association: 'Association',
      sas: 'SAS',
      sarl: 'SARL',
      scop: 'SCOP',
      gie: 'GIE',
      endowment_fund: 'Endowment fund',
      foundation: 'Foundation',
      other: 'Other',
    },
    conditions: {
      private_law_carrier: 'A private-law legal person carries the PTCE',
      three_legal_persons: 'At least three members are legal persons',
      ess_enterprise_member: 'At least one ESS enterprise',
      enterprise_member: 'At least one enterprise outside the ESS',
      other_category_member: 'At least one member of another category',
    },
  },
};

/** The stages from the bottom of the chart up: a higher row is a further stage. */
const STAGE_ROWS: readonly Stage[] = STAGES;
const LEGAL_STEPS = LEGAL_PHASES.filter((phase): phase is Exclude<LegalPhase, 'none'> => phase !== 'none');
/** The categories in the order the law lists them. */
const CATEGORY_ORDER: readonly Category[] = categorySchema.options;

/*
 * Colours: text is near-black on white (over 15:1); a bar's colour is never the only thing that
 * tells it apart (its row, its label and the tables do), and a fall-back is red, dashed, arrowed.
 */
const STYLE = `
:root { color: #1b1b1b; background: #fff; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; line-height: 1.5; }
body { margin: 0 auto; max-width: 60rem; padding: 1.5rem; }
h1 { font-size: 1.8rem; margin: 0 0 .5rem; }
h2 { font-size: 1.4rem; margin: 2rem 0 .75rem; border-bottom: 2px solid #1d4e89; padding-bottom: .25rem; }
h3 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: .5rem 0; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
table { border-collapse: collapse; width: 100%; margin: .75rem 0 1.25rem; font-size: .95rem; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { border: 1px solid #8a8a8a; padding: .3rem .5rem; text-align: left; vertical-align: top; }
thead th { background: #e8eef6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.holds { color: #11602a; font-weight: 600; }
.fails { color: #9b1c1c; font-weight: 600; }
.fallback-text { color: #9b1c1c; font-weight: 600; }
figure { margin: 1rem 0; }
figcaption { font-size: .95rem; color: #3b3b3b; margin-top: .25rem; }
svg { display: block; width: 100%; height: auto; max-width: 100%; }
svg text { fill: #1b1b1b; font-family: inherit; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .9em; overflow-wrap: anywhere; }
pre { background: #f3f3f3; border: 1px solid #c8c8c8; padding: .5rem .75rem; white-space: pre-wrap; overflow-wrap: anywhere; }
.note { color: #3b3b3b; }
@media print {
  :root { font-size: 10.5pt; }
  body { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  figure, table, pre, dl.facts { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
`;

/** The Content-Security-Policy of the report: nothing may load, only this page's own stylesheet applies. */
export const REPORT_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE, 'utf8').digest('base64')}'`,
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const DAY_MS = 86_400_000;

/** Days since the epoch of a `YYYY-MM-DD` day. */
const dayNumber = (day: string): number => Date.parse(`${day}T00:00:00Z`) / DAY_MS;

interface Formats {
  readonly day: (day: string) => string;
  readonly instant: (iso: string) => string;
  /** A share, or a dash where there was nothing to share (no member, no seat, no meeting). */
  readonly percent: (share: number | null) => string;
  readonly decimal: (value: number | null) => string;
}

function formatsFor(locale: string): Formats {
  const day = new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeZone: 'UTC' });
  const instant = new Intl.DateTimeFormat(locale, {
    dateStyle: 'long',
    timeStyle: 'short',
    timeZone: 'Europe/Paris',
  });
  const percent = new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 0 });
  const decimal = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });
  return {
    day: (d) => day.format(new Date(`${d}T00:00:00Z`)),
    instant: (iso) => instant.format(new Date(iso)),
    percent: (share) => (share === null ? '—' : percent.format(share)),
    decimal: (value) => (value === null ? '—' : decimal.format(value)),
  };
}

/** The timeline up to asOf: entries begun by then, one still held at asOf shown as still held. */
function timelineUpTo(timeline: readonly TimelineEntry[], asOf: string): TimelineEntry[] {
  return timeline
    .filter((entry) => entry.from <= asOf)
    .map((entry) => (entry.to !== null && entry.to > asOf ? { ...entry, to: null } : entry));
}

const rowOf = (stage: Stage) => STAGE_ROWS.indexOf(stage);

type Direction = 'first' | 'rise' | 'fallBack';

function directionOf(entries: readonly TimelineEntry[], index: number): Direction {
  const previous = entries[index - 1];
  if (!previous) return 'first';
  return rowOf(entries[index]!.stage) < rowOf(previous.stage) ? 'fallBack' : 'rise';
}

const STAGE_FILL: Readonly<Record<Stage, string>> = {
  not_started: '#767676',
  individual_impulse: '#6b8fb8',
  divided_groups: '#3f6fa6',
  collective_group: '#1d4e89',
  effective: '#0b2f5c',
};
const FALLBACK = '#b3261e';

function timelineChart(entries: readonly TimelineEntry[], asOf: string, t: Texts, f: Formats): Html {
  const rows = STAGE_ROWS.filter(
    (stage) => stage !== 'not_started' || entries.some((e) => e.stage === stage),
  );
  const left = 190;
  const right = 24;
  const top = 24;
  const rowHeight = 44;
  const width = 800;
  const plotBottom = top + rows.length * rowHeight;
  const height = plotBottom + 40;
  const firstYear = Number(entries[0]!.from.slice(0, 4));
  const lastYear = Number(asOf.slice(0, 4));
  const start = dayNumber(`${firstYear}-01-01`);
  const end = dayNumber(`${lastYear + 1}-01-01`);
  // Hundredths of a unit of the viewBox: finer than any screen or printer shows.
  const x = (day: number) =>
    Math.round((left + ((day - start) / (end - start)) * (width - left - right)) * 100) / 100;
  const yOf = (stage: Stage) => top + (rows.length - 1 - rows.indexOf(stage)) * rowHeight + rowHeight / 2;
  const asOfEnd = dayNumber(asOf) + 1;
  const years = Array.from({ length: lastYear + 2 - firstYear }, (_, i) => firstYear + i);

  const grid = rows.map((stage) => {
    const y = yOf(stage);
    return html`<line x1="${left}" x2="${width - right}" y1="${y}" y2="${y}" stroke="#d0d0d0" stroke-width="1"/>
<text x="${left - 10}" y="${y + 5}" text-anchor="end" font-size="14">${t.stages[stage]}</text>`;
  });
  const ticks = years.map((year) => {
    const at = x(dayNumber(`${year}-01-01`));
    return html`<line x1="${at}" x2="${at}" y1="${top}" y2="${plotBottom + 6}" stroke="#d0d0d0" stroke-width="1"/>
<text x="${at}" y="${plotBottom + 22}" text-anchor="middle" font-size="13">${year}</text>`;
  });
  const segments = entries.map((entry, index) => {
    const direction = directionOf(entries, index);
    const from = x(dayNumber(entry.from));
    const to = x(entry.to === null ? asOfEnd : dayNumber(entry.to));
    const y = yOf(entry.stage);
    const previous = entries[index - 1];
    const fallBack = direction === 'fallBack';
    const colour = fallBack ? FALLBACK : STAGE_FILL[entry.stage];
    const connector = previous
      ? html`<line x1="${from}" x2="${from}" y1="${yOf(previous.stage)}" y2="${y}" stroke="${fallBack ? FALLBACK : '#5a5a5a'}" stroke-width="${fallBack ? 3 : 1.5}"${fallBack ? html` stroke-dasharray="5 3"` : null}/>`
      : null;
    const arrow = fallBack
      ? html`<path d="M ${from - 7} ${y - 20} L ${from + 7} ${y - 20} L ${from} ${y - 9} Z" fill="${FALLBACK}"/>`
      : null;
    const period = `${f.day(entry.from)} – ${entry.to === null ? t.stillHeld : f.day(entry.to)}`;
    return html`<g data-timeline-entry="${index}" data-stage="${entry.stage}" data-direction="${direction}">
<title>${t.stages[entry.stage]}: ${period}${fallBack ? ` (${t.fallBack})` : ''}</title>
${connector}
<rect x="${from}" y="${y - 8}" width="${Math.max(to - from, 3)}" height="16" fill="${colour}"${fallBack ? html` stroke="${FALLBACK}" stroke-dasharray="6 3" fill-opacity="0.85"` : null}/>
${arrow}
</g>`;
  });
  const marker = x(asOfEnd);
  return html`<svg viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="timeline-chart-title timeline-chart-desc" xmlns="http://www.w3.org/2000/svg">
<title id="timeline-chart-title">${t.timelineChart}</title>
<desc id="timeline-chart-desc">${t.timelineDescription}</desc>
${grid}
${ticks}
${segments}
<line x1="${marker}" x2="${marker}" y1="${top}" y2="${plotBottom}" stroke="#1b1b1b" stroke-width="1" stroke-dasharray="2 3"/>
<text x="${marker - 4}" y="${top - 6}" text-anchor="end" font-size="12">${t.asOfMarker}</text>
</svg>`;
}

function timelineTable(entries: readonly TimelineEntry[], t: Texts, f: Formats): Html {
  const rows = entries.map((entry, index) => {
    const direction = directionOf(entries, index);
    return html`<tr data-direction="${direction}">
<th scope="row">${t.stages[entry.stage]}</th>
<td>${f.day(entry.from)}</td>
<td>${entry.to === null ? t.stillHeld : f.day(entry.to)}</td>
<td${direction === 'fallBack' ? html` class="fallback-text"` : null}>${t[direction]}</td>
<td><code>${entry.cause.type}</code></td>
</tr>`;
  });
  return html`<table>
<caption>${t.timelineCaption}</caption>
<thead><tr><th scope="col">${t.stage}</th><th scope="col">${t.from}</th><th scope="col">${t.to}</th><th scope="col">${t.change}</th><th scope="col">${t.cause}</th></tr></thead>
<tbody>${rows}</tbody>
</table>`;
}

function stageSection(
  snapshot: SignedSnapshot['snapshot'],
  timeline: readonly TimelineEntry[],
  t: Texts,
  f: Formats,
): Html {
  const { stage } = snapshot;
  const entries = timelineUpTo(timeline, snapshot.asOf);
  const measured = (value: number | boolean, id: string): string => {
    if (typeof value === 'boolean') return value ? t.yes : t.no;
    return id.endsWith('_share') ? f.percent(value) : f.decimal(value);
  };
  const criteria = stage.criteria.map(
    (c) => html`<tr>
<th scope="row">${t.criteria[c.id as CriterionId] ?? c.id}</th>
<td class="num">${measured(c.value, c.id)}</td>
<td class="num">${measured(c.threshold, c.id)}</td>
<td class="${c.holds ? 'holds' : 'fails'}">${c.holds ? t.yes : t.no}</td>
</tr>`,
  );
  return html`<section aria-labelledby="stage-heading">
<h2 id="stage-heading">${t.stageHeading}</h2>
<p><strong>${t.currentStage} ${t.stages[stage.stage as Stage] ?? stage.stage}</strong>${stage.since === null ? null : html` (${t.since} ${f.day(stage.since)})`}. ${stage.stalled ? t.stalled : t.notStalled}</p>
<table>
<caption>${t.criteriaCaption}</caption>
<thead><tr><th scope="col">${t.criterion}</th><th scope="col">${t.value}</th><th scope="col">${t.threshold}</th><th scope="col">${t.holds}</th></tr></thead>
<tbody>${criteria}</tbody>
</table>
<h3>${t.timelineHeading}</h3>
${
  entries.length === 0
    ? html`<p>${t.noTimeline}</p>`
    : html`<figure>${timelineChart(entries, snapshot.asOf, t, f)}<figcaption>${t.timelineDescription}</figcaption></figure>
${timelineTable(entries, t, f)}`
}
</section>`;
}

function participationChart(categories: readonly [Category, CategoryShares][], t: Texts, f: Formats): Html {
  // Room on the left for the longest category's name, on the right for a full bar's label.
  const left = 300;
  const width = 900;
  const barWidth = width - left - 210;
  const band = 56;
  const height = categories.length * band + 8;
  const bars = categories.map(([category, shares], i) => {
    const y = 8 + i * band;
    const memberShare = shares.memberShare ?? 0;
    const seatShare = shares.seatShare ?? 0;
    return html`<g>
<text x="${left - 10}" y="${y + 22}" text-anchor="end" font-size="14">${t.categories[category]}</text>
<rect x="${left}" y="${y}" width="${Math.max(memberShare * barWidth, 1)}" height="18" fill="#1d4e89"/>
<text x="${left + memberShare * barWidth + 6}" y="${y + 14}" font-size="13">${t.memberShare} ${f.percent(shares.memberShare)}</text>
<rect x="${left}" y="${y + 22}" width="${Math.max(seatShare * barWidth, 1)}" height="18" fill="#5b9bd5" stroke="#1d4e89" stroke-width="1"/>
<text x="${left + seatShare * barWidth + 6}" y="${y + 36}" font-size="13">${t.seatShare} ${f.percent(shares.seatShare)}</text>
</g>`;
  });
  return html`<svg viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="participation-chart-title participation-chart-desc" xmlns="http://www.w3.org/2000/svg">
<title id="participation-chart-title">${t.participationChart}</title>
<desc id="participation-chart-desc">${t.participationDescription}</desc>
<line x1="${left}" x2="${left}" y1="0" y2="${height}" stroke="#5a5a5a" stroke-width="1"/>
${bars}
</svg>`;
}

type CategoryShares = SignedSnapshot['snapshot']['participation']['byCategory'][string];

function participationSection(snapshot: SignedSnapshot['snapshot'], t: Texts, f: Formats): Html {
  const { participation, members } = snapshot;
  const categories = CATEGORY_ORDER.flatMap((category): [Category, CategoryShares][] => {
    const shares = participation.byCategory[category];
    return shares ? [[category, shares]] : [];
  });
  const rows = categories.map(
    ([category, c]) => html`<tr>
<th scope="row">${t.categories[category]}</th>
<td class="num">${c.members}</td>
<td class="num">${f.percent(c.memberShare)}</td>
<td class="num">${c.steeringSeats}</td>
<td class="num">${f.percent(c.seatShare)}</td>
<td class="num">${f.decimal(c.representationRatio)}</td>
<td class="num">${f.percent(c.attendanceRate)}</td>
</tr>`,
  );
  return html`<section aria-labelledby="participation-heading">
<h2 id="participation-heading">${t.participationHeading}</h2>
<dl class="facts">
<dt>${t.activeMembers}</dt><dd>${members.total}</dd>
<dt>${t.naturalPersons}</dt><dd>${members.naturalPersons}</dd>
<dt>${t.steeringCoverage}</dt><dd>${f.percent(participation.steeringCoverage)}</dd>
<dt>${t.categoryCoverage}</dt><dd>${f.percent(participation.categoryCoverage)}</dd>
<dt>${t.blauMembership}</dt><dd>${f.decimal(participation.blau.membership)}</dd>
<dt>${t.blauSteering}</dt><dd>${f.decimal(participation.blau.steering)}</dd>
<dt>${t.window}</dt><dd>${f.day(participation.window.from)} – ${f.day(participation.window.to)}</dd>
</dl>
${
  categories.length === 0
    ? html`<p>${t.noParticipation}</p>`
    : html`<figure>${participationChart(categories, t, f)}<figcaption>${t.participationDescription}</figcaption></figure>
<table>
<caption>${t.participationCaption}</caption>
<thead><tr><th scope="col">${t.category}</th><th scope="col">${t.members}</th><th scope="col">${t.memberShare}</th><th scope="col">${t.steeringSeats}</th><th scope="col">${t.seatShare}</th><th scope="col">${t.representationRatio}</th><th scope="col">${t.attendanceRate}</th></tr></thead>
<tbody>${rows}</tbody>
</table>`
}
</section>`;
}

function legalSection(snapshot: SignedSnapshot['snapshot'], t: Texts, f: Formats): Html {
  const transition = snapshot.legalTransition;
  const reached = new Map(transition.steps.map((step) => [step.step, step.date]));
  const rows = LEGAL_STEPS.map((step) => {
    const date = reached.get(step);
    return html`<tr>
<th scope="row">${t.phases[step]}</th>
<td${date === undefined ? null : html` class="holds"`}>${date === undefined ? t.notReached : f.day(parisDay(date))}</td>
</tr>`;
  });
  const form = transition.legalForm;
  const entity = transition.entity;
  return html`<section aria-labelledby="legal-heading">
<h2 id="legal-heading">${t.legalHeading}</h2>
<dl class="facts">
<dt>${t.legalPhase}</dt><dd>${t.phases[transition.phase as LegalPhase] ?? transition.phase}</dd>
<dt>${t.legalForm}</dt><dd>${form === null ? '—' : (t.forms[form as LegalForm] ?? form)}</dd>
<dt>${t.entity}</dt><dd>${entity === null ? t.noEntity : html`${entity.name} (${f.day(parisDay(entity.registeredAt))})`}</dd>
<dt>${t.associates}</dt><dd>${transition.associates.count} (${f.percent(transition.associates.share)})</dd>
</dl>
<table>
<caption>${t.legalCaption}</caption>
<thead><tr><th scope="col">${t.step}</th><th scope="col">${t.reachedOn}</th></tr></thead>
<tbody>${rows}</tbody>
</table>
</section>`;
}

function eligibilitySection(snapshot: SignedSnapshot['snapshot'], lang: ReportLanguage, t: Texts): Html {
  const { eligibility } = snapshot;
  const rows = eligibility.conditions.map(
    (c) => html`<tr>
<th scope="row">${t.conditions[c.id as EligibilityConditionId] ?? c.id}</th>
<td class="${c.holds ? 'holds' : 'fails'}">${c.holds ? t.yes : c.unknown ? t.unknown : t.no}</td>
<td${lang === 'en' ? null : html` lang="en"`}>${c.detail}</td>
</tr>`,
  );
  return html`<section aria-labelledby="eligibility-heading">
<h2 id="eligibility-heading">${t.eligibilityHeading}</h2>
<p><strong class="${eligibility.eligible ? 'holds' : 'fails'}">${eligibility.eligible ? t.eligible : t.notEligible}</strong></p>
<table>
<caption>${t.eligibilityCaption}</caption>
<thead><tr><th scope="col">${t.condition}</th><th scope="col">${t.holds}</th><th scope="col">${t.detail}</th></tr></thead>
<tbody>${rows}</tbody>
</table>
<p class="note">${t.indicative}</p>
</section>`;
}

function signatureSection(input: ReportInput, t: Texts): Html {
  const { snapshot, signature } = input.signed;
  const query = new URLSearchParams({ asOf: snapshot.asOf, atPosition: snapshot.position });
  const snapshotUrl = `${input.origin}/v1/snapshots/${snapshot.ptceId}?${query}`;
  const keysUrl = `${input.origin}/.well-known/jwks.json`;
  return html`<section aria-labelledby="signature-heading">
<h2 id="signature-heading">${t.signatureHeading}</h2>
<dl class="facts">
<dt>${t.algorithm}</dt><dd>${signature.alg}</dd>
<dt>${t.keyId}</dt><dd><code data-key-id>${signature.keyId}</code></dd>
<dt>${t.signatureValue}</dt><dd><code>${signature.value}</code></dd>
</dl>
<h3>${t.verifyHeading}</h3>
<ol>
<li>${t.verifyFetch}<pre><code>curl -H "Authorization: Bearer $TOKEN" -o FILE '${snapshotUrl}'</code></pre></li>
<li>${t.verifyRun}<pre><code>pnpm --silent ptce verify-snapshot FILE --keys ${keysUrl}</code></pre></li>
</ol>
<p>${t.verifyByHand} <a href="/.well-known/jwks.json"><code>${keysUrl}</code></a></p>
</section>`;
}

/** The whole page, in the language asked for. */
export function reportPage(input: ReportInput): string {
  const t = TEXTS[input.lang];
  const f = formatsFor(t.locale);
  const { snapshot, generatedAt } = input.signed;
  const page = html`<!doctype html>
<html lang="${input.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${t.title} — ${snapshot.name}</title>
<style>${new Html(STYLE)}</style>
</head>
<body>
<header>
<h1>${t.title} — ${snapshot.name}</h1>
<p>${t.intro}</p>
<dl class="facts">
<dt>PTCE</dt><dd><code>${snapshot.ptceId}</code></dd>
<dt>${t.asOf}</dt><dd>${f.day(snapshot.asOf)}</dd>
<dt>${t.position}</dt><dd><code>${snapshot.position}</code></dd>
<dt>${t.rulesVersion}</dt><dd><code>${snapshot.rulesVersion}</code></dd>
<dt>${t.generatedAt}</dt><dd>${f.instant(generatedAt)}</dd>
</dl>
</header>
<main>
${stageSection(snapshot, input.timeline, t, f)}
${participationSection(snapshot, t, f)}
${legalSection(snapshot, t, f)}
${eligibilitySection(snapshot, input.lang, t)}
${signatureSection(input, t)}
</main>
<footer><p class="note">${t.privacy}</p></footer>
</body>
</html>
`;
  return page.toString();
}
