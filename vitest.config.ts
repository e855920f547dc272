import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/bench/**', 'test/kube-real/**', 'node_modules/**', 'dist/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Lab tests create network namespaces; e2e tests start simulators: keep the machine's two cores sane.
    maxWorkers: 4,
  },
});
