// Adaptive Card validation with the `adaptivecards` library (no DOM needed for parse + validate).
import * as AC from 'adaptivecards';

export interface CardProblem {
  phase: number;
  event: number;
  message: string;
}

/** Parse and validate a card as the Adaptive Cards SDK does; returns every problem it reports. */
export function validateCard(json: unknown): CardProblem[] {
  const card = new AC.AdaptiveCard();
  const context = new AC.SerializationContext();
  card.parse(json, context);
  const problems: CardProblem[] = [];
  for (let i = 0; i < context.eventCount; i++) {
    const e = context.getEventAt(i);
    problems.push({ phase: e.phase, event: e.event, message: e.message });
  }
  for (const e of card.validateProperties().validationEvents) {
    problems.push({ phase: e.phase, event: e.event, message: e.message });
  }
  return problems;
}
