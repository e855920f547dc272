// npm run test:kube-real: snatguard against a real kube-apiserver (../shared/tools/kube-real). One file,
// one cluster, in order; never part of `npm test` (vitest.config.ts excludes test/kube-real).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/kube-real/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
});
