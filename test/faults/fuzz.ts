// How many cases a fast-check property runs: `base` in `npm test` (fast, every run), times
// SNATGUARD_FUZZ_SCALE in `npm run fuzz` (the long run; README "Reliability" gives its figures).
// Every property's count is added up so the long run can print the total it tried.

const scale = (): number => {
  const raw = process.env.SNATGUARD_FUZZ_SCALE;
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`SNATGUARD_FUZZ_SCALE must be a positive number, not ${raw}`);
  return n;
};

/** The number of runs for a property whose `npm test` count is `base`. */
export function fuzzRuns(base: number): number {
  return Math.max(1, Math.round(base * scale()));
}
