// Console benchmarks (`make bench`): the end-to-end setup with the benchmarks' directory.
import { defineConfig } from '@playwright/test';
import e2e from './playwright.config';

export default defineConfig({
  ...e2e,
  testDir: 'tests/bench',
  testMatch: '*.bench.ts',
  timeout: 30 * 60_000,
});
