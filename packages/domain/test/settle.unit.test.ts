import { describe, expect, it } from 'vitest';
import { compileLedger, evolveLedger, foldLedger, settleLedger } from '../src/index.ts';
import { LogBuilder } from './fixtures.ts';

describe('settleLedger', () => {
  it('settles the compiled ledger of an earlier event of the batch: a later command did not compile its own', () => {
    const log = new LogBuilder('p');
    log.add('PtceRegistered', '2020-01-01', {
      name: 'P',
      territory: { name: 'T' },
      pilot: { organisationId: 'a', name: 'A', category: 'enterprise' },
    });
    const join = log.add('MemberJoined', '2020-02-01', {
      organisationId: 'b',
      name: 'B',
      category: 'enterprise',
    });
    const correction = log.now('MembershipCorrected', {
      correctsEventId: join.eventId,
      organisationId: 'b',
      fields: { name: 'B corrigé' },
      reason: 'r',
    });
    const grant = log.add('RecognitionGranted', '2020-03-01', { programme: 'x', grantor: 'y' });
    const [registration] = log.events;
    const provisional = (e: (typeof log.events)[number]) => ({ ...e, position: '', recordedAt: 'pending' });

    // One writer's batch: a join, its correction (the next command is decided on them, which
    // compiles that ledger: the corrected join is a copy), then a grant nobody compiled since.
    const decidedOn = foldLedger([provisional(join), provisional(correction)], foldLedger([registration!]));
    expect(compileLedger(decidedOn).factsById.get(join.eventId)).toMatchObject({ position: '' });
    const ledger = evolveLedger(decidedOn, provisional(grant));

    settleLedger(ledger, [join, correction, grant]);
    const compiled = compileLedger(ledger);
    expect(compiled.factsById.get(join.eventId)).toMatchObject({
      position: join.position,
      recordedAt: join.recordedAt,
      data: { name: 'B corrigé' },
    });
    expect(compiled.lastPosition).toBe(grant.position);
    expect(compiled.facts).toEqual(compileLedger(foldLedger(log.events)).facts);
  });

  it('refuses events the log does not end with', () => {
    const log = new LogBuilder('p');
    const a = log.add('MemberJoined', '2020-02-01', {
      organisationId: 'b',
      name: 'B',
      category: 'enterprise',
    });
    const b = log.add('MemberJoined', '2020-02-01', {
      organisationId: 'c',
      name: 'C',
      category: 'enterprise',
    });
    expect(() => settleLedger(foldLedger([a, b]), [a])).toThrow(/not where the log has it/);
  });
});
