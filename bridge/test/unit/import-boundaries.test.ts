import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The tree shows the data flow; these are the arrows that must never run back up it.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|mjs|js)$/.test(name)) out.push(path);
  }
  return out;
}

/** Every relative import of a file, resolved to a repo-relative path. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"](\.[^'"]+)['"]/g)].map((m) => m[1]!);
  return specs.map((s) => relative(root, resolve(join(root, dirname(file)), s)));
}

function offenders(dir: string, forbidden: RegExp): string[] {
  return sourceFiles(dir).flatMap((f) => importsOf(f).filter((i) => forbidden.test(i)).map((i) => `${f} -> ${i}`));
}

describe('import boundaries', () => {
  it('finds imports at all (the scanner is not blind)', () => {
    expect(importsOf('bridge/src/compose.ts').length).toBeGreaterThan(5);
  });

  it('bridge/src imports nothing from simulator/, bench/ or any test directory', () => {
    expect(offenders('bridge/src', /^(simulator|bench)\/|\/test\//)).toEqual([]);
  });

  it('bench imports no test file (it shares shared/testkit with the tests)', () => {
    expect(offenders('bench', /\/test\//).filter((o) => !o.startsWith('bench/test/'))).toEqual([]);
  });

  it('the simulator outside its tests imports nothing from bench/ or tests', () => {
    const files = offenders('simulator', /^bench\/|\/test\//).filter((o) => !o.startsWith('simulator/test/'));
    expect(files).toEqual([]);
  });

  it('the chaos store reader (an oracle for the store) imports nothing from bridge/src', () => {
    expect(importsOf('bridge/test/chaos/store-reader.ts').filter((i) => i.startsWith('bridge/src/'))).toEqual([]);
  });

  it('shared/testkit imports nothing from the product or its tests', () => {
    expect(offenders('shared/testkit', /^(bridge|simulator|bench)\//)).toEqual([]);
  });
});
