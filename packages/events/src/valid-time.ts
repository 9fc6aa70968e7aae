import { z } from 'zod';
import { inputRuleIssue } from './text.ts';

/**
 * A valid time as the secretary gave it: a calendar date `YYYY-MM-DD`, meaning that whole day in
 * Europe/Paris, or an ISO-8601 instant with an explicit offset or `Z`. It is kept as given
 * (a date stays a date); these helpers turn it into epoch milliseconds when ordering or cutting.
 */
export type ValidTime = string;

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const INSTANT_RE =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-](\d{2}):(\d{2}))$/;

const DAY_MS = 86_400_000;

/**
 * Epoch ms of a UTC wall-clock time. Date.UTC reads the years 0 to 99 as 1900 to 1999;
 * setUTCFullYear takes the year as given.
 */
function utcMs(y: number, m: number, d: number, hh = 0, mi = 0, ss = 0): number {
  if (y >= 100) return Date.UTC(y, m - 1, d, hh, mi, ss);
  const t = new Date(Date.UTC(2000, 0, 1, hh, mi, ss));
  t.setUTCFullYear(y, m - 1, d);
  return t.getTime();
}

function isRealDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const t = new Date(utcMs(y, m, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

interface ParsedDate {
  readonly kind: 'date';
  readonly y: number;
  readonly m: number;
  readonly d: number;
}
interface ParsedInstant {
  readonly kind: 'instant';
  readonly ms: number;
}

function parse(v: string): ParsedDate | ParsedInstant | null {
  const dm = DATE_RE.exec(v);
  if (dm) {
    const y = Number(dm[1]);
    const m = Number(dm[2]);
    const d = Number(dm[3]);
    return isRealDate(y, m, d) ? { kind: 'date', y, m, d } : null;
  }
  const im = INSTANT_RE.exec(v);
  if (!im) return null;
  const y = Number(im[1]);
  const m = Number(im[2]);
  const d = Number(im[3]);
  const hh = Number(im[4]);
  const mi = Number(im[5]);
  const ss = im[6] === undefined ? 0 : Number(im[6]);
  const frac = im[7] === undefined ? 0 : Number(`0.${im[7]}`);
  if (!isRealDate(y, m, d) || hh > 23 || mi > 59 || ss > 59) return null;
  let offsetMin = 0;
  if (im[8] !== 'Z') {
    const oh = Number(im[9]);
    const om = Number(im[10]);
    if (oh > 23 || om > 59) return null;
    offsetMin = (im[8]?.startsWith('-') ? -1 : 1) * (oh * 60 + om);
  }
  const ms = utcMs(y, m, d, hh, mi, ss) + Math.floor(frac * 1000) - offsetMin * 60_000;
  return { kind: 'instant', ms };
}

export function isValidTime(v: string): boolean {
  return parse(v) !== null;
}

export function isDateOnly(v: string): boolean {
  return parse(v)?.kind === 'date';
}

/**
 * No fact of a PTCE is that old: a year before it is a typo (0202 for 2020), refused as such
 * rather than recorded a millennium early.
 */
export const EARLIEST_YEAR = 1900;

export const validTimeSchema = z
  .string()
  .refine(isValidTime, {
    message: 'expected a real calendar date YYYY-MM-DD or an ISO-8601 instant with an offset or Z',
    abort: true,
  })
  .superRefine((v, ctx) => {
    if (Number(v.slice(0, 4)) < EARLIEST_YEAR) {
      inputRuleIssue(ctx, `a real date, but before ${EARLIEST_YEAR}: no fact of a PTCE is that old`);
    }
  })
  .describe('A date YYYY-MM-DD (that day in Europe/Paris) or an ISO-8601 instant with offset');

export class InvalidValidTimeError extends Error {
  constructor(readonly value: string) {
    super(`not a valid time: ${JSON.stringify(value)}`);
    this.name = 'InvalidValidTimeError';
  }
}

function parseOrThrow(v: string): ParsedDate | ParsedInstant {
  const p = parse(v);
  if (!p) throw new InvalidValidTimeError(v);
  return p;
}

// Built once: constructing an Intl formatter is far costlier than using it.
const parisFormatter = new Intl.DateTimeFormat('en-US', {
  timeZone: 'Europe/Paris',
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

function intlParisParts(ms: number): { y: number; m: number; d: number; hh: number; mi: number; ss: number } {
  const parts: Record<string, number> = {};
  const date = new Date(ms);
  for (const p of parisFormatter.formatToParts(date)) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  // The formatter's year has no sign: year 0 (1 BC) comes out as 1. Paris is within a day of
  // UTC, so its year is UTC's, or the next or previous one across New Year.
  const utcYear = date.getUTCFullYear();
  const m = parts.month ?? 1;
  const utcMonth = date.getUTCMonth() + 1;
  const y = m === 1 && utcMonth === 12 ? utcYear + 1 : m === 12 && utcMonth === 1 ? utcYear - 1 : utcYear;
  return {
    y,
    m: parts.month ?? 0,
    d: parts.day ?? 0,
    hh: parts.hour ?? 0,
    mi: parts.minute ?? 0,
    ss: parts.second ?? 0,
  };
}

/**
 * Since 1977 France has moved its clocks only at 01:00 UTC, on the hour, so one UTC hour has one
 * Paris offset: reading it once per hour spares the Intl formatter, the costliest step of placing
 * an instant in its Paris day (every current read does). Before 1977, every instant asks Intl.
 */
const HOURLY_OFFSETS_FROM = Date.UTC(1977, 0, 1);
const HOUR_MS = 3_600_000;
const OFFSET_CACHE_SIZE = 50_000;
const offsetByHour = new Map<number, number>();

function parisParts(ms: number): { y: number; m: number; d: number; hh: number; mi: number; ss: number } {
  if (!(ms >= HOURLY_OFFSETS_FROM) || !Number.isFinite(ms)) return intlParisParts(ms);
  const hour = Math.floor(ms / HOUR_MS);
  let offset = offsetByHour.get(hour);
  if (offset === undefined) {
    const p = intlParisParts(hour * HOUR_MS);
    offset = utcMs(p.y, p.m, p.d, p.hh, p.mi, p.ss) - hour * HOUR_MS;
    if (offsetByHour.size >= OFFSET_CACHE_SIZE) offsetByHour.clear();
    offsetByHour.set(hour, offset);
  }
  const wall = new Date(ms + offset);
  return {
    y: wall.getUTCFullYear(),
    m: wall.getUTCMonth() + 1,
    d: wall.getUTCDate(),
    hh: wall.getUTCHours(),
    mi: wall.getUTCMinutes(),
    ss: wall.getUTCSeconds(),
  };
}

/** Offset of Paris wall-clock time from UTC at that instant, in ms (+1h in winter, +2h in summer). */
function parisOffsetMs(ms: number): number {
  const p = parisParts(ms);
  const wall = utcMs(p.y, p.m, p.d, p.hh, p.mi, p.ss);
  return wall - (ms - (((ms % 1000) + 1000) % 1000));
}

/** Midnight in Paris never falls in a DST gap (France switches at 02:00/03:00), so two passes settle it. */
function parisMidnight(y: number, m: number, d: number): number {
  const wall = utcMs(y, m, d);
  const hit = midnightCache.get(wall);
  if (hit !== undefined) return hit;
  const guess = wall - parisOffsetMs(wall);
  const midnight = wall - parisOffsetMs(guess);
  // Folds convert the same few thousand days over and over; Intl formatting dominates otherwise.
  if (midnightCache.size >= MIDNIGHT_CACHE_SIZE) midnightCache.clear();
  midnightCache.set(wall, midnight);
  return midnight;
}

const MIDNIGHT_CACHE_SIZE = 50_000;
const midnightCache = new Map<number, number>();

/** Epoch ms where the valid time starts: a date starts at 00:00 Europe/Paris that day. */
export function startInstant(v: ValidTime): number {
  const p = parseOrThrow(v);
  return p.kind === 'instant' ? p.ms : parisMidnight(p.y, p.m, p.d);
}

/** Epoch ms where the valid time ends: a date covers its whole Paris day (last ms); an instant is itself. */
export function endInstant(v: ValidTime): number {
  const p = parseOrThrow(v);
  if (p.kind === 'instant') return p.ms;
  const next = new Date(utcMs(p.y, p.m, p.d) + DAY_MS);
  return parisMidnight(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate()) - 1;
}

/** Orders by start; on the same start a date sorts before an instant (the day is opened before its hours). */
export function compareValidTime(a: ValidTime, b: ValidTime): number {
  const pa = parseOrThrow(a);
  const pb = parseOrThrow(b);
  const sa = pa.kind === 'instant' ? pa.ms : parisMidnight(pa.y, pa.m, pa.d);
  const sb = pb.kind === 'instant' ? pb.ms : parisMidnight(pb.y, pb.m, pb.d);
  if (sa !== sb) return sa < sb ? -1 : 1;
  if (pa.kind === pb.kind) return 0;
  return pa.kind === 'date' ? -1 : 1;
}

/** Does a fact at `eventTime` belong to the state as of `asOf` ("a date includes its whole day")? */
export function isAtOrBefore(eventTime: ValidTime, asOf: ValidTime): boolean {
  return startInstant(eventTime) <= endInstant(asOf);
}

/** The Europe/Paris calendar day, `YYYY-MM-DD`, of an instant. */
export function parisDate(instantMs: number): string {
  const p = parisParts(instantMs);
  return `${String(p.y).padStart(4, '0')}-${String(p.m).padStart(2, '0')}-${String(p.d).padStart(2, '0')}`;
}

/** The Europe/Paris calendar day, `YYYY-MM-DD`, a valid time starts in: a date is its own day. */
export function parisDay(v: ValidTime): string {
  const p = parseOrThrow(v);
  return p.kind === 'date' ? v : parisDate(p.ms);
}

/** Whole days from calendar day `from` to calendar day `to` (`YYYY-MM-DD`), negative when earlier. */
export function daysBetween(from: string, to: string): number {
  const a = parseOrThrow(from);
  const b = parseOrThrow(to);
  if (a.kind !== 'date') throw new InvalidValidTimeError(from);
  if (b.kind !== 'date') throw new InvalidValidTimeError(to);
  return Math.round((utcMs(b.y, b.m, b.d) - utcMs(a.y, a.m, a.d)) / DAY_MS);
}
