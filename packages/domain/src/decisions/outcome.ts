import type { Outcome, SpaceRules, Vote } from '@ptce/events';

// Shares are compared with a small tolerance: 0.5 × 6 must admit exactly 3 present.
const EPS = 1e-9;

/**
 * The server's reading of a vote. Quorum: present ≥ quorum × enrolled (an empty space never has
 * one). Majorities: simple for > against; absolute for > half of those present; two_thirds
 * for ≥ 2/3 of for + against (and at least one for); unanimity no against, no abstention and at
 * least one for; consensus no objection. A consensus vote passes under any rule when nobody
 * objects; a tally under the consensus rule passes when nobody votes against.
 */
export function deriveOutcome(
  rules: SpaceRules,
  enrolledCount: number,
  presentCount: number,
  vote: Vote,
): Outcome {
  if (enrolledCount <= 0 || presentCount <= 0 || presentCount + EPS < rules.quorum * enrolledCount)
    return 'no_quorum';
  if ('method' in vote) return vote.objections === 0 ? 'adopted' : 'rejected';
  const { for: yes, against, abstain } = vote;
  let adopted: boolean;
  switch (rules.majority) {
    case 'simple':
      adopted = yes > against;
      break;
    case 'absolute':
      adopted = yes > presentCount / 2;
      break;
    case 'two_thirds':
      adopted = yes > 0 && 3 * yes >= 2 * (yes + against);
      break;
    case 'unanimity':
      adopted = yes > 0 && against === 0 && abstain === 0;
      break;
    case 'consensus':
      adopted = against === 0;
      break;
    default: {
      const never: never = rules.majority;
      return never;
    }
  }
  return adopted ? 'adopted' : 'rejected';
}

export function votesCast(vote: Vote): number {
  return 'method' in vote ? vote.objections : vote.for + vote.against + vote.abstain;
}
