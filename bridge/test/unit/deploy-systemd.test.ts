// The Raspberry Pi deployment files: the systemd unit passes `systemd-analyze
// verify`, and the config it points at is valid.
//
// verify checks that ExecStart's program exists and is executable. The unit names
// the installed path (/opt/edge-bridge/current/...), which a CI clone does not
// have, so we verify a copy whose ExecStart points at this checkout's bin/ (same
// file, same relative path): everything else in the unit is checked as shipped.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig } from '../../src/config/index.ts';

const repo = resolve(import.meta.dirname, '../../..');
const unitPath = join(repo, 'deploy/systemd/edge-bridge.service');
const INSTALLED = '/opt/edge-bridge/current/';

function verify(unitText: string): { status: number | null; problems: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'edge-unit-'));
  try {
    const file = join(dir, 'edge-bridge.service');
    writeFileSync(file, unitText);
    const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', env: { ...process.env, SYSTEMD_LOG_LEVEL: 'warning' } });
    if (r.error) throw new Error(`systemd-analyze not runnable (Debian package: systemd): ${r.error.message}`);
    // verify exits 0 on warnings such as an unknown key, so its messages about our unit count too.
    // Lines about other units on this host (it loads the dependency graph) are not ours to judge.
    const problems = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes('edge-bridge'));
    return { status: r.status, problems };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('deploy/systemd/edge-bridge.service', () => {
  const unit = readFileSync(unitPath, 'utf8');

  it('runs the checkout-relative bin, and that bin is an executable file here', () => {
    const exec = /^ExecStart=(\S+)/m.exec(unit)?.[1];
    expect(exec).toBe(`${INSTALLED}bridge/bin/edge-bridge.js`);
    accessSync(join(repo, exec!.slice(INSTALLED.length)), constants.X_OK);
  });

  it('passes systemd-analyze verify with ExecStart pointed at this checkout', () => {
    const local = unit.replace(/^ExecStart=\/opt\/edge-bridge\/current\//m, `ExecStart=${repo}/`);
    expect(local).not.toBe(unit);
    const r = verify(local);
    expect(r.problems).toEqual([]);
    expect(r.status).toBe(0);
  });

  it('verify would catch mistakes: an unknown key, and the installed path absent from this machine', () => {
    const local = unit.replace(/^ExecStart=\/opt\/edge-bridge\/current\//m, `ExecStart=${repo}/`);
    expect(verify(local.replace('[Service]\n', '[Service]\nRestartSecs=2\n')).problems.join('\n')).toMatch(/Unknown key/);
    expect(verify(unit.replace(INSTALLED, '/nonexistent/edge-bridge/')).status).not.toBe(0);
  });

  it('keeps the store in its StateDirectory, logs to the journal, and is hardened', () => {
    const keys = new Map<string, string[]>();
    for (const line of unit.split('\n')) {
      const m = /^(\w+)=(.*)$/.exec(line);
      if (m) keys.set(m[1]!, [...(keys.get(m[1]!) ?? []), m[2]!]);
    }
    const one = (k: string) => keys.get(k)?.[0];
    expect(one('StateDirectory')).toBe('edge-bridge');
    expect(one('ConfigurationDirectory')).toBe('edge-bridge');
    expect(one('ExecStart')).toContain('-c /etc/edge-bridge/edge-bridge.yaml');
    expect(one('StandardOutput')).toBe('journal');
    expect(one('User')).toBe('edge-bridge');
    for (const [k, v] of Object.entries({ NoNewPrivileges: 'yes', ProtectSystem: 'strict', ProtectHome: 'yes', PrivateTmp: 'yes', CapabilityBoundingSet: '', RestartPreventExitStatus: '2' })) {
      expect(one(k), k).toBe(v);
    }
    // V8's JIT needs writable+executable pages: this setting would crash node.
    expect(keys.has('MemoryDenyWriteExecute')).toBe(false);
  });

  it('the shipped /etc config is valid with the token from /etc/edge-bridge/env, and keeps data under the StateDirectory', () => {
    const file = join(repo, 'deploy/config/edge-bridge.yaml');
    const config = loadConfig({ file, env: { EDGE_BRIDGE__HTTP__TOKEN: 'a-token-from-etc-edge-bridge-env' } });
    expect(config.store.dir).toBe('/var/lib/edge-bridge/store');
    expect(config.quarantine.dir).toBe('/var/lib/edge-bridge/quarantine');
    expect(config.http).toMatchObject({ host: '0.0.0.0', token: 'a-token-from-etc-edge-bridge-env' });
    expect(config.mqtt.embedded.auth?.credentialsFile).toBe('/etc/edge-bridge/mqtt-credentials.json');
    // Without the token the dashboard and /metrics would be open to the network: refused.
    expect(() => loadConfig({ file, env: {} })).toThrow(/http\.token: expected a token/);
  });
});
