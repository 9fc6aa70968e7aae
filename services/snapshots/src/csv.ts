import type { SignedSnapshot } from './schemas.ts';

/** What a row is made of: the signed snapshot, whenever it was generated. */
type Signed = Pick<SignedSnapshot, 'snapshot' | 'signature'>;

type Cell = string | number | boolean | null;

/** RFC 4180: a field holding a comma, a double quote or a line break is quoted, its quotes doubled. */
function field(value: Cell): string {
  const text = value === null ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const COLUMNS: readonly [string, (s: Signed) => Cell][] = [
  ['ptceId', (s) => s.snapshot.ptceId],
  ['name', (s) => s.snapshot.name],
  ['asOf', (s) => s.snapshot.asOf],
  ['position', (s) => s.snapshot.position],
  ['rulesVersion', (s) => s.snapshot.rulesVersion],
  ['stage', (s) => s.snapshot.stage.stage],
  ['since', (s) => s.snapshot.stage.since],
  ['stalled', (s) => s.snapshot.stage.stalled],
  ['eligible', (s) => s.snapshot.eligibility.eligible],
  ['legalPhase', (s) => s.snapshot.legalTransition.phase],
  ['steeringCoverage', (s) => s.snapshot.participation.steeringCoverage],
  ['categoryCoverage', (s) => s.snapshot.participation.categoryCoverage],
  ['members', (s) => s.snapshot.members.total],
  ['naturalPersons', (s) => s.snapshot.members.naturalPersons],
  ['associates', (s) => s.snapshot.legalTransition.associates.count],
  ['keyId', (s) => s.signature.keyId],
  ['signature', (s) => s.signature.value],
];

/** A header row, then one row of headline indicators per snapshot; every line ends with CRLF. */
export function snapshotsCsv(snapshots: readonly Signed[]): string {
  const rows = [
    COLUMNS.map(([name]) => name),
    ...snapshots.map((s) => COLUMNS.map(([, value]) => field(value(s)))),
  ];
  return rows.map((row) => `${row.join(',')}\r\n`).join('');
}
