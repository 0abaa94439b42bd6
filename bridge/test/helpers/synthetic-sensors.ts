// The POSIX edge-node's synthetic sensors (firmware/ports/posix/sensors.c), modelled
// in float32 so a test can derive the readings a seed must produce instead of
// hard-coding them. sinf and the float32 steps can round differently from this
// model in rare last-digit cases, so compare with `closeTo` (one 0.01 step; 1 ADC count).
const f = Math.fround;
const MASK = (1n << 64n) - 1n;

class SplitMix64 {
  constructor(private state: bigint) {}
  nextU32(): number {
    this.state = (this.state + 0x9e3779b97f4a7c15n) & MASK;
    let z = this.state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
    return Number((z ^ (z >> 31n)) >> 32n);
  }
}

const roundf = (v: number) => f(Math.sign(v) * Math.floor(Math.abs(v) + 0.5));
const round2 = (v: number) => f(roundf(f(v * 100)) / 100);
const clamp = (v: number, lo: number, hi: number) => (v < lo ? lo : v > hi ? hi : v);

/** The first `count` readings (sensor order within each tick) a node started with `--seed seed` samples. */
export function syntheticReadings(seed: number, sensors: string[], count: number): Array<{ sensor: string; value: number }> {
  const rng = new SplitMix64(BigInt(seed));
  const noise = () => f(f(f(rng.nextU32()) / 2147483648) - 1);
  const level: number[] = sensors.map((s) => (s === 'pot' ? 2048 : 0));
  const tick = sensors.map(() => 0);
  const out: Array<{ sensor: string; value: number }> = [];
  for (let i = 0; out.length < count; i = (i + 1) % sensors.length) {
    const name = sensors[i]!;
    const t = f(tick[i]!++);
    const n = noise();
    let v: number;
    if (name === 'temperature') v = round2(f(f(21 + f(2 * f(Math.sin(f(t * f(0.05)))))) + f(f(0.2) * n)));
    else if (name === 'humidity') v = round2(clamp(f(f(45 + f(8 * f(Math.sin(f(f(t * f(0.03)) + 1))))) + f(f(0.5) * n)), 0, 100));
    else if (name === 'pot') v = level[i] = clamp(f(level[i]! + roundf(f(60 * n))), 0, 4095);
    else {
      level[i] = clamp(f(level[i]! + n), -50, 50);
      v = round2(f(50 + level[i]!));
    }
    out.push({ sensor: name, value: v });
  }
  return out;
}

/** Equal within one rounding step of the sensor's resolution. */
export function closeTo(sensor: string, a: number, b: number): boolean {
  return Math.abs(a - b) <= (sensor === 'pot' ? 1 : 0.0101);
}
