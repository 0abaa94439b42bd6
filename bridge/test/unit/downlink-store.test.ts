import { describe, it, expect } from 'vitest';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandStore } from '../../src/downlink/command-store.ts';
import { parseCommandMessage } from '../../src/downlink/downlink.ts';
import { encodeCommand } from '../../src/codec/index.ts';

const cmd = (id: number, op: 'set_interval' | 'ping' = 'set_interval', arg = 500) => ({ v: 1 as const, id, op, arg: op === 'ping' ? 0 : arg });

describe('CommandStore', () => {
  it('keeps pending commands across a reopen and forgets them on confirm', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cmdstore-'));
    const a = new CommandStore(dir);
    a.open();
    a.put('node-1', cmd(7), 60_000, 1000);
    a.put('node-1', cmd(8, 'ping'), 60_000, 2000);
    a.put('node-2', cmd(7), 60_000, 3000);
    a.put('node-1', cmd(7, 'set_interval', 900), 60_000, 4000); // a repeat of a pending id keeps the first

    const b = new CommandStore(dir);
    b.open();
    expect(b.size).toBe(3);
    expect(b.forDevice('node-1').map((p) => [p.command.id, p.command.op, p.command.arg])).toEqual([[7, 'set_interval', 500], [8, 'ping', 0]]);
    expect(b.confirm('node-1', 7)?.command.op).toBe('set_interval');
    expect(b.confirm('node-1', 7)).toBeUndefined();
    expect(b.confirm('node-9', 8)).toBeUndefined(); // another device's id confirms nothing

    const c = new CommandStore(dir);
    c.open();
    expect(c.all().map((p) => `${p.device}#${p.command.id}`).sort()).toEqual(['node-1#8', 'node-2#7']);
  });

  it('expires commands past their TTL, durably', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cmdstore-'));
    const s = new CommandStore(dir);
    s.open();
    s.put('n', cmd(1), 100, 1000);
    s.put('n', cmd(2), 10_000, 1000);
    expect(s.expire(1099)).toEqual([]);
    expect(s.expire(1100).map((p) => p.command.id)).toEqual([1]);
    const again = new CommandStore(dir);
    again.open();
    expect(again.all().map((p) => p.command.id)).toEqual([2]);
  });

  it('moves an unreadable file aside and reports it instead of failing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cmdstore-'));
    writeFileSync(join(dir, 'n.5.json'), '{"device":"n","command":{"v":1,"id":5,"op":"warp","arg":0}');
    writeFileSync(join(dir, 'n.6.json'), 'garbage');
    const s = new CommandStore(dir);
    s.open();
    expect(s.size).toBe(0);
    expect(s.bad.sort()).toEqual(['n.5.json', 'n.6.json']);
    expect(readdirSync(dir).sort()).toEqual(['n.5.json.bad', 'n.6.json.bad']);
  });

  it('refuses a device id that is not a protocol device id', () => {
    const s = new CommandStore(mkdtempSync(join(tmpdir(), 'cmdstore-')));
    s.open();
    expect(() => s.put('../etc', cmd(1), 1000)).toThrow(/is not \[A-Za-z0-9_-\]/);
  });
});

describe('parseCommandMessage', () => {
  it('takes JSON with or without an id, and the msgpack command map', () => {
    expect(parseCommandMessage('cmd.node-1', Buffer.from('{"op":"set_interval","arg":250,"id":9}'), 'application/json', undefined)).toEqual({ ok: true, device: 'node-1', command: { v: 1, id: 9, op: 'set_interval', arg: 250 } });
    const a = parseCommandMessage('cmd.n', Buffer.from('{"op":"ping"}'), undefined, 'msg-1');
    const b = parseCommandMessage('cmd.n', Buffer.from('{"op":"ping"}'), undefined, 'msg-1');
    expect(a.ok && b.ok && a.command.id === b.command.id && a.command.id !== 0).toBe(true); // a redelivery keeps its id
    expect(parseCommandMessage('cmd.n', encodeCommand(cmd(3, 'ping')), 'application/msgpack', undefined)).toEqual({ ok: true, device: 'n', command: cmd(3, 'ping') });
  });

  it('rejects bad keys and bodies with the reason', () => {
    expect(parseCommandMessage('cmd.a.b', Buffer.from('{"op":"ping"}'), undefined, undefined)).toEqual({ ok: false, reason: "routing key 'cmd.a.b' is not cmd.<device>" });
    expect(parseCommandMessage('cmd.a', Buffer.from('not json'), undefined, undefined)).toMatchObject({ ok: false, reason: expect.stringMatching(/neither JSON/) });
    expect(parseCommandMessage('cmd.a', Buffer.from('[1]'), undefined, undefined)).toMatchObject({ ok: false, reason: 'JSON body is not an object' });
    expect(parseCommandMessage('cmd.a', Buffer.from('{"op":"warp"}'), undefined, undefined)).toMatchObject({ ok: false, reason: expect.stringMatching(/^bad_op/) });
    expect(parseCommandMessage('cmd.a', Buffer.from('{"op":"set_interval","arg":5}'), undefined, undefined)).toMatchObject({ ok: false, reason: expect.stringMatching(/^bad_arg/) });
    expect(parseCommandMessage('cmd.a', Buffer.from([0xc1]), 'application/msgpack', undefined)).toMatchObject({ ok: false, reason: expect.stringMatching(/^malformed/) });
  });
});
