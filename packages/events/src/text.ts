import { z } from 'zod';

/**
 * Marks the issues of a rule on what may be written from now on. Stored events are immutable and
 * may predate a rule: reading them must not fail because of it (`parseEvent` reads an event whose
 * only issues carry this mark as it was written), while every write is held to it.
 */
export const INPUT_RULE = 'input_rule';

export function isInputRuleIssue(issue: z.core.$ZodIssue): boolean {
  if (issue.code !== 'custom') return false;
  return (issue.params as { rule?: unknown } | undefined)?.rule === INPUT_RULE;
}

/** Adds an issue of a rule on input, at the value being checked. */
export function inputRuleIssue(ctx: z.RefinementCtx, message: string): void {
  ctx.addIssue({ code: 'custom', message, params: { rule: INPUT_RULE } });
}

// A name is one line of visible text. Control characters (C0, DEL, C1: a NUL also makes
// PostgreSQL refuse the JSON of the whole table), line separators, bidirectional overrides and
// isolates (they display a name other than the one stored), invisible characters (they make two
// names that look alike differ) and half surrogate pairs (not text: no UTF-8 for them, no hash).
const NOT_IN_A_LINE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u200b-\u200d\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]|\p{Cs}/u;
// Free text keeps tabs and line breaks, and the zero-width joiners of emoji and some scripts.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const NOT_IN_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]|\p{Cs}/u;

function described(character: string): string {
  const code = character.codePointAt(0) ?? 0;
  const at = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  if (code >= 0xd800 && code <= 0xdfff)
    return `${at}, half of a UTF-16 surrogate pair without the other half`;
  if (code <= 0x1f || (code >= 0x7f && code <= 0x9f)) return `${at}, a control character`;
  if ((code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069)) {
    return `${at}, a bidirectional override or isolate`;
  }
  if (code === 0x2028 || code === 0x2029) return `${at}, a line or paragraph separator`;
  return `${at}, an invisible character`;
}

function refusing(forbidden: RegExp, what: string) {
  return (value: string, ctx: z.RefinementCtx) => {
    const found = forbidden.exec(value);
    if (found) inputRuleIssue(ctx, `must not contain ${described(found[0])} (${what})`);
  };
}

/** One line of visible text: names, titles, codes, ids. Add trimming and lengths on top. */
export const lineTextSchema = z
  .string()
  .superRefine(refusing(NOT_IN_A_LINE, 'one line of visible text expected'));

/** Free text (reasons, notes): tabs and line breaks allowed, no control or bidirectional override. */
export const freeTextSchema = z
  .string()
  .superRefine(refusing(NOT_IN_TEXT, 'text with tabs and line breaks at most expected'));

/**
 * Compared pairwise while short: the lists are read back with every stored event, and a set per
 * list was a good part of what reading a long history allocated.
 */
function allDistinct(ids: readonly string[]): boolean {
  if (ids.length > 32) return new Set(ids).size === ids.length;
  for (let i = 1; i < ids.length; i++) {
    for (let j = 0; j < i; j++) if (ids[i] === ids[j]) return false;
  }
  return true;
}

/** A list of ids in which each appears once (attendees, carriers, members present). */
export function distinctIds<T extends z.ZodType<string>>(item: T) {
  return z.array(item).superRefine((ids, ctx) => {
    if (allDistinct(ids)) return;
    const seen = new Set<string>();
    const twice = new Set<string>();
    for (const id of ids) (seen.has(id) ? twice : seen).add(id);
    inputRuleIssue(ctx, `lists ${[...twice].join(', ')} more than once: each appears once`);
  });
}
