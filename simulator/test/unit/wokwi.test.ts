/**
 * Consistency of the Wokwi simulation with the firmware:
 *  - every part type in simulator/wokwi/diagram.json is known, and every
 *    connection names a pin that part really has (pin lists from
 *    @wokwi/elements);
 *  - the ESP32 GPIO defaults in firmware/main/Kconfig.projbuild are the pins
 *    the diagram wires (following resistors in series);
 *  - the ESP32-C3 defaults are usable C3 GPIOs (ADC1 on GPIO0-4);
 *  - the pushbutton is never on a strapping pin (held at reset, it would
 *    change the boot mode), on either target;
 *  - every text the scenario waits for is printed by firmware/main/*.c.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

const root = new URL('../../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');

interface Part {
  type: string;
  id: string;
  attrs?: Record<string, unknown>;
}
type Connection = [string, string, string, unknown[]];
interface Diagram {
  version: number;
  parts: Part[];
  connections: Connection[];
}

const diagram = JSON.parse(read('simulator/wokwi/diagram.json')) as Diagram;

/** Pin names per part type (wokwi-elements `pinInfo`). */
const ESP32_DEVKIT_V1_PINS = [
  'VIN', 'GND.2', 'D13', 'D12', 'D14', 'D27', 'D26', 'D25', 'D33', 'D32', 'D35', 'D34', 'VN', 'VP',
  'EN', '3V3', 'GND.1', 'D15', 'D2', 'D4', 'RX2', 'TX2', 'D5', 'D18', 'D19', 'D21', 'RX0', 'TX0',
  'D22', 'D23',
];
const PART_PINS: Record<string, readonly string[]> = {
  'wokwi-esp32-devkit-v1': ESP32_DEVKIT_V1_PINS,
  'wokwi-dht22': ['VCC', 'SDA', 'NC', 'GND'],
  'wokwi-potentiometer': ['GND', 'SIG', 'VCC'],
  'wokwi-led': ['A', 'C'],
  'wokwi-pushbutton': ['1.l', '1.r', '2.l', '2.r'],
  'wokwi-resistor': ['1', '2'],
};
/** Pseudo-parts a connection may name. */
const PSEUDO_PINS: Record<string, readonly string[]> = { $serialMonitor: ['RX', 'TX'] };

/** ESP32 DevKit v1 pin label -> GPIO number (null: not a GPIO). */
function devkitGpio(label: string): number | null {
  const d = /^D(\d+)$/.exec(label);
  if (d?.[1] !== undefined) return Number(d[1]);
  const named: Record<string, number> = { TX0: 1, RX0: 3, TX2: 17, RX2: 16, VP: 36, VN: 39 };
  return named[label] ?? null;
}

function splitPin(ref: string): { id: string; pin: string } {
  const i = ref.indexOf(':');
  expect(i, `connection end "${ref}" has no ':'`).toBeGreaterThan(0);
  return { id: ref.slice(0, i), pin: ref.slice(i + 1) };
}

const partsById = new Map(diagram.parts.map((p) => [p.id, p]));

/** Pins joined by wires (resistors count as a wire: they sit in series). */
function netOf(start: string): Set<string> {
  const adj = new Map<string, Set<string>>();
  const link = (a: string, b: string): void => {
    if (!adj.has(a)) adj.set(a, new Set());
    adj.get(a)?.add(b);
  };
  for (const [a, b] of diagram.connections) {
    link(a, b);
    link(b, a);
  }
  for (const p of diagram.parts) {
    if (p.type === 'wokwi-resistor') {
      link(`${p.id}:1`, `${p.id}:2`);
      link(`${p.id}:2`, `${p.id}:1`);
    }
  }
  const seen = new Set<string>([start]);
  const todo = [start];
  while (todo.length > 0) {
    const cur = todo.pop() as string;
    for (const next of adj.get(cur) ?? []) {
      if (!seen.has(next)) {
        seen.add(next);
        todo.push(next);
      }
    }
  }
  return seen;
}

/** GPIO the given part pin is wired to on the ESP32 board. */
function wiredGpio(partPin: string): number {
  const esp = diagram.parts.find((p) => p.type === 'wokwi-esp32-devkit-v1');
  expect(esp).toBeDefined();
  const gpios = [...netOf(partPin)]
    .map(splitPin)
    .filter((r) => r.id === esp?.id)
    .map((r) => devkitGpio(r.pin))
    .filter((g): g is number => g !== null);
  expect(gpios, `${partPin} must reach exactly one ESP32 GPIO`).toHaveLength(1);
  return gpios[0] as number;
}

/** Kconfig int defaults: symbol -> { target condition ('' = unconditional) -> value }. */
function kconfigDefaults(text: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  let current: string | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const cfg = /^(?:config|menuconfig)\s+(\w+)/.exec(line);
    if (cfg?.[1] !== undefined) {
      current = cfg[1];
      out.set(current, new Map());
      continue;
    }
    if (/^(choice|endchoice|menu|endmenu)\b/.test(line)) {
      current = null;
      continue;
    }
    const def = /^default\s+(.+?)(?:\s+if\s+(\w+))?$/.exec(line);
    if (current !== null && def?.[1] !== undefined) {
      const cond = def[2] ?? '';
      const defaults = out.get(current);
      if (defaults !== undefined && !defaults.has(cond)) defaults.set(cond, def[1]);
    }
  }
  return out;
}

const kconfig = kconfigDefaults(read('firmware/main/Kconfig.projbuild'));
function gpioDefault(symbol: string, target: 'IDF_TARGET_ESP32' | 'IDF_TARGET_ESP32C3'): number {
  const d = kconfig.get(symbol);
  expect(d, `Kconfig has no ${symbol}`).toBeDefined();
  const v = d?.get(target);
  expect(v, `${symbol} has no "default N if ${target}"`).toBeDefined();
  const n = Number(v);
  expect(Number.isInteger(n), `${symbol} default for ${target} is "${v}"`).toBe(true);
  return n;
}

describe('diagram.json', () => {
  it('is a version 1 diagram with unique part ids', () => {
    expect(diagram.version).toBe(1);
    expect(new Set(diagram.parts.map((p) => p.id)).size).toBe(diagram.parts.length);
  });

  it('uses only known part types', () => {
    for (const p of diagram.parts) {
      expect(Object.keys(PART_PINS), `part ${p.id}`).toContain(p.type);
    }
  });

  it('connects only pins that exist on their parts', () => {
    for (const conn of diagram.connections) {
      expect(conn.length, JSON.stringify(conn)).toBeGreaterThanOrEqual(2);
      for (const end of conn.slice(0, 2) as string[]) {
        const { id, pin } = splitPin(end);
        const pseudo = PSEUDO_PINS[id];
        if (pseudo !== undefined) {
          expect(pseudo, end).toContain(pin);
          continue;
        }
        const part = partsById.get(id);
        expect(part, `unknown part id in "${end}"`).toBeDefined();
        expect(PART_PINS[part?.type ?? ''], end).toContain(pin);
      }
    }
  });

  it('wires the serial monitor to UART0', () => {
    const ends = diagram.connections.map(([a, b]) => `${a}|${b}`);
    expect(ends).toContain('esp:TX0|$serialMonitor:RX');
    expect(ends).toContain('esp:RX0|$serialMonitor:TX');
  });

  it('powers the DHT22 and the potentiometer from 3V3 and GND', () => {
    for (const [id, vcc] of [['dht1', 'VCC'], ['pot1', 'VCC']] as const) {
      expect([...netOf(`${id}:${vcc}`)]).toContain('esp:3V3');
      expect([...netOf(`${id}:GND`)].some((p) => /^esp:GND\.\d$/.test(p)), id).toBe(true);
    }
    expect([...netOf('led1:C')].some((p) => /^esp:GND\.\d$/.test(p))).toBe(true);
    expect([...netOf('btn1:2.l')].some((p) => /^esp:GND\.\d$/.test(p))).toBe(true);
  });
});

describe('Kconfig GPIO defaults', () => {
  it('ESP32 defaults are the pins diagram.json wires', () => {
    expect(gpioDefault('EDGE_DHT_GPIO', 'IDF_TARGET_ESP32')).toBe(wiredGpio('dht1:SDA'));
    expect(gpioDefault('EDGE_POT_GPIO', 'IDF_TARGET_ESP32')).toBe(wiredGpio('pot1:SIG'));
    expect(gpioDefault('EDGE_LED_GPIO', 'IDF_TARGET_ESP32')).toBe(wiredGpio('led1:A'));
    expect(gpioDefault('EDGE_BUTTON_GPIO', 'IDF_TARGET_ESP32')).toBe(wiredGpio('btn1:1.l'));
  });

  it('ESP32 defaults suit the pins', () => {
    const pot = gpioDefault('EDGE_POT_GPIO', 'IDF_TARGET_ESP32');
    expect(pot, 'potentiometer on ADC1 (GPIO32-39): ADC2 is unusable with Wi-Fi').toBeGreaterThanOrEqual(32);
    expect(pot).toBeLessThanOrEqual(39);
    for (const sym of ['EDGE_DHT_GPIO', 'EDGE_LED_GPIO', 'EDGE_UART_TX_GPIO']) {
      const g = gpioDefault(sym, 'IDF_TARGET_ESP32');
      expect(g >= 34 && g <= 39, `${sym}=${g} needs an output; GPIO34-39 are input-only`).toBe(false);
    }
    for (const sym of ['EDGE_DHT_GPIO', 'EDGE_POT_GPIO', 'EDGE_LED_GPIO', 'EDGE_BUTTON_GPIO', 'EDGE_UART_TX_GPIO', 'EDGE_UART_RX_GPIO']) {
      const g = gpioDefault(sym, 'IDF_TARGET_ESP32');
      expect([6, 7, 8, 9, 10, 11], `${sym}=${g} is an SPI-flash pin`).not.toContain(g);
      expect([1, 3], `${sym}=${g} is the console UART0`).not.toContain(g);
    }
    expect(gpioDefault('EDGE_UART_PORT', 'IDF_TARGET_ESP32')).not.toBe(0);
  });

  it('the pushbutton is off the strapping pins on both targets', () => {
    const esp32Straps = [0, 2, 5, 12, 15];
    const c3Straps = [2, 8, 9];
    const esp32 = gpioDefault('EDGE_BUTTON_GPIO', 'IDF_TARGET_ESP32');
    expect(esp32Straps, `ESP32 button GPIO${esp32} is a strapping pin`).not.toContain(esp32);
    expect(esp32Straps, 'the wired button is a strapping pin').not.toContain(wiredGpio('btn1:1.l'));
    const c3 = gpioDefault('EDGE_BUTTON_GPIO', 'IDF_TARGET_ESP32C3');
    expect(c3Straps, `ESP32-C3 button GPIO${c3} is a strapping pin (GPIO9 is BOOT)`).not.toContain(c3);
  });

  it('ESP32-C3 inputs with a pull-up and the DHT22 line are off the strapping pins', () => {
    for (const sym of ['EDGE_BUTTON_GPIO', 'EDGE_DHT_GPIO', 'EDGE_UART_RX_GPIO']) {
      const g = gpioDefault(sym, 'IDF_TARGET_ESP32C3');
      expect([2, 8, 9], `${sym}=${g} is a C3 strapping pin`).not.toContain(g);
    }
  });

  it('ESP32-C3 defaults are valid C3 GPIOs', () => {
    const syms = ['EDGE_DHT_GPIO', 'EDGE_POT_GPIO', 'EDGE_LED_GPIO', 'EDGE_BUTTON_GPIO', 'EDGE_UART_TX_GPIO', 'EDGE_UART_RX_GPIO'];
    const used = syms.map((s) => gpioDefault(s, 'IDF_TARGET_ESP32C3'));
    for (const [i, g] of used.entries()) {
      expect(g >= 0 && g <= 21, `${syms[i]}=${g}: C3 has GPIO0-21`).toBe(true);
      expect(g >= 11 && g <= 17, `${syms[i]}=${g}: GPIO11-17 belong to the SPI flash`).toBe(false);
      expect([18, 19, 20, 21], `${syms[i]}=${g}: USB-JTAG / console UART0`).not.toContain(g);
    }
    expect(new Set(used).size, 'no pin used twice').toBe(used.length);
    const pot = gpioDefault('EDGE_POT_GPIO', 'IDF_TARGET_ESP32C3');
    expect(pot, 'C3 ADC1 channels are GPIO0-4').toBeLessThanOrEqual(4);
    expect(pot).toBeGreaterThanOrEqual(0);
    const port = gpioDefault('EDGE_UART_PORT', 'IDF_TARGET_ESP32C3');
    expect(port, 'C3 has UART0 (console) and UART1').toBe(1);
  });
});

describe('scenario.yaml', () => {
  const scenario = parseYaml(read('simulator/wokwi/scenario.yaml')) as {
    version: number;
    steps: Record<string, unknown>[];
  };
  const firmware = readdirSync(new URL('firmware/main/', root))
    .filter((f) => f.endsWith('.c'))
    .map((f) => read(`firmware/main/${f}`))
    .join('\n');

  it('waits for texts the firmware prints', () => {
    expect(scenario.version).toBe(1);
    const waits = scenario.steps
      .map((s) => s['wait-serial'])
      .filter((w): w is string => typeof w === 'string');
    expect(waits).toContain('edge: published batch seq=');
    for (const text of waits) {
      expect(firmware.includes(text), `"${text}" is not in firmware/main/*.c`).toBe(true);
    }
  });

  it('only drives parts that exist in the diagram', () => {
    for (const step of scenario.steps) {
      const ctl = step['set-control'] as { 'part-id'?: string } | undefined;
      if (ctl !== undefined) expect(partsById.has(ctl['part-id'] ?? ''), JSON.stringify(ctl)).toBe(true);
    }
  });
});
