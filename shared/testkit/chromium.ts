// Debian's Chromium driven by playwright-core (no browser download).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/**
 * Chromium with the flags the project prescribes (without the background-networking
 * ones it keeps dialling out) and a fresh profile directory. playwright takes the
 * profile as launchPersistentContext's userDataDir, which becomes --user-data-dir.
 * The caller removes `profile` after closing the context.
 */
export async function launchChromium(viewport = { width: 1400, height: 1000 }): Promise<{ context: BrowserContext; profile: string }> {
  const profile = mkdtempSync(join(tmpdir(), 'edge-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  return { context, profile };
}
