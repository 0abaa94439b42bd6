import { defineConfig } from 'vitest/config';

// Two projects: pure unit tests run in parallel; anything that talks to a broker,
// a pty or a child process runs file by file, so faults never overlap.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['bridge/test/unit/**/*.test.ts', 'simulator/test/unit/**/*.test.ts', 'bench/test/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['bridge/test/integration/**/*.test.ts', 'simulator/test/integration/**/*.test.ts', 'firmware/test/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        // Faults under load (docs/reliability.md): the subset here, CHAOS_PROFILE=full via npm run chaos.
        test: {
          name: 'chaos',
          include: ['bridge/test/chaos/**/*.test.ts'],
          fileParallelism: false,
          // after unit and integration, so its faults and load never overlap theirs
          sequence: { groupOrder: 1 },
          testTimeout: process.env.CHAOS_PROFILE === 'full' ? 900_000 : 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
