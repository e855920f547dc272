// How many cases a fast-check property runs: `base` in `npm test` (fast, every run), times
// SNATGUARD_FUZZ_SCALE in `npm run fuzz` (the long run; README "Reliability" gives its figures).
// Rounds of whole runs against a simulator take seconds each, not microseconds: they scale on their own
// (SNATGUARD_FUZZ_ROUNDS).

const scale = (name: string): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, not ${raw}`);
  return n;
};

/** The number of cases for a property whose `npm test` count is `base` (× SNATGUARD_FUZZ_SCALE). */
export function fuzzRuns(base: number): number {
  return Math.max(1, Math.round(base * scale('SNATGUARD_FUZZ_SCALE')));
}

/** The number of simulator rounds whose `npm test` count is `base` (× SNATGUARD_FUZZ_ROUNDS). */
export function fuzzRounds(base: number): number {
  return Math.max(1, Math.round(base * scale('SNATGUARD_FUZZ_ROUNDS')));
}
