// A keyed table for entries that come and go thousands of times a second
// (gets and loads in flight), kept in a null-prototype object, not a Map.
//
// Why not a Map: as entries come and go, V8 rehashes a Map or Set into a new
// backing table (and clear() makes a new one), and the old table keeps a
// pointer to its successor for live iterators. Once one table of that chain
// is in the old generation (a full GC while it is current puts it there),
// it keeps each later table, and whatever is still in them, alive through
// every scavenge until the next full GC. Young garbage is promoted, full GCs
// come every few hundred milliseconds, and each one promotes the current
// table again: the process never leaves that state, and one idle spell (V8's
// memory reducer runs full GCs when a process is idle) is enough to enter it
// (the cost: docs/PERFORMANCE.md). An object's dictionary keeps no pointer to
// the next one.
// Internal to mccache (the core and the gRPC client use it); table_test.ts counts the GCs.

/** A Map-like table; values must not be `undefined`. */
export class Table<K extends string | number, V> {
  #entries: Record<K, V> = Object.create(null);
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(key: K): V | undefined {
    return this.#entries[key];
  }

  has(key: K): boolean {
    return this.#entries[key] !== undefined;
  }

  set(key: K, value: V): void {
    if (this.#entries[key] === undefined) this.#size++;
    this.#entries[key] = value;
  }

  delete(key: K): boolean {
    if (this.#entries[key] === undefined) return false;
    delete this.#entries[key];
    this.#size--;
    return true;
  }

  /** The values, in no particular order. */
  values(): V[] {
    return Object.values(this.#entries);
  }

  clear(): void {
    this.#entries = Object.create(null);
    this.#size = 0;
  }
}
