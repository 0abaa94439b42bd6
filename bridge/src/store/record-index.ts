// The compact in-memory index of live records: six typed-array columns, 21 bytes
// per record, no per-record objects and no bodies (1M backlogged records ≈ 21-42 MB).
// Ids are kept as uint32 offsets from the oldest live id's base: the live span of ids
// is bounded by the store's record limit, far below 2^32.
// acceptedAt is a float32 offset from the index's creation: exact to the ms within
// 4.6 hours of it, within 0.2 s for a record a month old (ages and TTLs only).
// Entries are pushed in id order, so lookup by id is a binary search and the
// oldest live record is at `head`.

export const GONE = 0;
export const PENDING = 1;
export const IN_FLIGHT = 2;
/** Dropped or expired, its callback not yet run: no longer counted, segment not yet deletable. */
export const REMOVING = 3;
/** The segment of a record appended but not yet written (its group commit has not settled). */
export const UNCOMMITTED = 0xffff_ffff;

export class RecordIndex {
  private capacity = 1024;
  head = 0;
  tail = 0;
  /** Every entry in [head, cursor) is not PENDING: take() starts here. */
  cursor = 0;
  /** id - idBase; see idAt(). */
  idRel = new Uint32Array(this.capacity);
  private idBase = 0;
  segment = new Uint32Array(this.capacity);
  offset = new Uint32Array(this.capacity);
  length = new Uint32Array(this.capacity);
  private readonly base = Date.now();
  acceptedAtRel = new Float32Array(this.capacity);
  state = new Uint8Array(this.capacity);

  get size(): number {
    return this.tail - this.head;
  }

  push(id: number, segment: number, offset: number, length: number, acceptedAt: number, state = PENDING): void {
    if (this.tail === this.capacity) this.makeRoom();
    if (this.tail === this.head) this.idBase = id;
    else if (id - this.idBase > 0xffff_ffff) this.rebase(id);
    const k = this.tail++;
    this.idRel[k] = id - this.idBase;
    this.segment[k] = segment;
    this.offset[k] = offset;
    this.length[k] = length;
    this.acceptedAtRel[k] = acceptedAt - this.base;
    this.state[k] = state;
  }

  idAt(k: number): number {
    return this.idBase + this.idRel[k]!;
  }

  /** Moves the base up to the oldest live id before `next` is pushed. Throws if the ids would still span 2^32 (no store limit allows that). */
  private rebase(next: number): void {
    const shift = this.idRel[this.head]!;
    if (next - (this.idBase + shift) > 0xffff_ffff) throw new RangeError('record index: live ids span more than 2^32');
    for (let k = this.head; k < this.tail; k++) this.idRel[k] = this.idRel[k]! - shift;
    this.idBase += shift;
  }

  acceptedAtOf(k: number): number {
    return this.base + this.acceptedAtRel[k]!;
  }

  /** Position of `id`, or -1. */
  find(id: number): number {
    let lo = this.head;
    let hi = this.tail - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.idBase + this.idRel[mid]!;
      if (v === id) return mid;
      if (v < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Drops GONE entries at the front. */
  advanceHead(): void {
    while (this.head < this.tail && this.state[this.head] === GONE) this.head++;
    if (this.cursor < this.head) this.cursor = this.head;
    if (this.head === this.tail) this.head = this.tail = this.cursor = 0;
  }

  private makeRoom(): void {
    const live = this.tail - this.head;
    // Slide down when at least half is dead space; otherwise double. Amortised O(1) per push.
    const capacity = live * 2 <= this.capacity ? this.capacity : this.capacity * 2;
    const shift = this.head;
    for (const key of ['idRel', 'segment', 'offset', 'length', 'acceptedAtRel', 'state'] as const) {
      const old = this[key];
      if (capacity === this.capacity) {
        old.copyWithin(0, this.head, this.tail);
      } else {
        const grown = new (old.constructor as { new (n: number): typeof old })(capacity);
        grown.set(old.subarray(this.head, this.tail));
        (this as Record<typeof key, typeof old>)[key] = grown;
      }
    }
    this.capacity = capacity;
    this.head = 0;
    this.tail = live;
    this.cursor = Math.max(0, this.cursor - shift);
  }
}
