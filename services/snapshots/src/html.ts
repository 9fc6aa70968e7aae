/*
 * Markup written with a tagged template that escapes whatever it interpolates: a PTCE, an
 * organisation or a legal entity is named by whoever recorded it, and a name holding `<script>`
 * must reach the reader as text. Only `Html` goes in unescaped.
 */

const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Markup already safe to write as is: made by `html`, or from a constant of the code, never from data. */
export class Html {
  readonly #markup: string;
  constructor(markup: string) {
    this.#markup = markup;
  }
  toString(): string {
    return this.#markup;
  }
}

/**
 * What may be interpolated: text and numbers (escaped), markup, lists of these, and null for
 * nothing. No boolean, so that `cond && html…` cannot print "false".
 */
export type Interpolated = Html | string | number | null | readonly Interpolated[];

/** Text made safe in element content and in quoted attribute values alike. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

function render(value: Interpolated): string {
  if (value instanceof Html) return value.toString();
  if (value === null) return '';
  if (typeof value === 'string') return escapeHtml(value);
  if (typeof value === 'number') return String(value);
  return value.map(render).join('');
}

export function html(strings: TemplateStringsArray, ...values: readonly Interpolated[]): Html {
  let markup = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) {
    markup += render(values[i]!) + (strings[i + 1] ?? '');
  }
  return new Html(markup);
}
