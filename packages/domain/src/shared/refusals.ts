/**
 * Every refusal a decider can give, with its HTTP status: clients switch on these codes, so they
 * are part of the published contract and are listed here once. 404: the resource named does not
 * exist (inside the caller's scope); 409: the write conflicts with the current state; 422: the
 * write is well-formed but contradicts the recorded history.
 */
export const REFUSALS = {
  // The PTCE and its timeline
  ptce_not_found: 404,
  ptce_already_registered: 409,
  occurred_in_future: 422,
  before_registration: 422,
  contradicts_history: 422,
  nothing_to_correct: 422,
  // Members, the pilot
  member_not_found: 404,
  already_member: 409,
  not_a_member: 409,
  pilot_cannot_leave: 409,
  already_pilot: 409,
  not_a_member_at_date: 422,
  joined_after_leaving: 422,
  // Natural persons' personal data
  member_erased: 409,
  already_erased: 409,
  not_a_natural_person: 422,
  personal_data_in_clear: 422,
  // The shared legal entity and its associates
  legal_entity_not_found: 404,
  legal_entity_already_registered: 409,
  already_associate: 409,
  not_an_associate: 409,
  no_legal_entity: 422,
  // Retractions
  event_not_found: 404,
  already_retracted: 409,
  cannot_retract_retraction: 422,
  cannot_retract_registration: 422,
  cannot_retract_erasure: 422,
  // Spaces, enrolments, meetings
  space_not_found: 404,
  meeting_not_found: 404,
  space_already_exists: 409,
  space_closed: 409,
  already_enrolled: 409,
  not_enrolled: 409,
  meeting_already_exists: 409,
  before_space_opened: 422,
  attendees_not_enrolled: 422,
  no_attendees: 422,
  // Activities
  activity_not_found: 404,
  activity_already_exists: 409,
  activity_ended: 409,
  already_carrier: 409,
  no_carriers: 422,
  before_activity_launched: 422,
  // Decisions
  decision_not_found: 404,
  decision_already_exists: 409,
  already_annulled: 409,
  invalid_subject: 422,
  present_required: 422,
  present_differs_from_meeting: 422,
  duplicate_present: 422,
  tally_exceeds_present: 422,
  meeting_not_in_space: 422,
  before_meeting: 422,
  long_after_meeting: 422,
  before_decision: 422,
} as const satisfies Record<string, 404 | 409 | 422>;

export type RefusalCode = keyof typeof REFUSALS;
export type RefusalStatus = (typeof REFUSALS)[RefusalCode];

/** A decider's refusal: a stable code, its status, a message and details naming what is wrong. */
export class DomainError extends Error {
  readonly status: RefusalStatus;
  constructor(
    readonly code: RefusalCode,
    message: string,
    readonly details?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
    this.name = 'DomainError';
    this.status = REFUSALS[code];
  }
}

export function refuse(code: RefusalCode, message: string, details?: Record<string, unknown>): DomainError {
  return new DomainError(code, message, details);
}
