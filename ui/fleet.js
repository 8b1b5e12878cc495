// The window's inventory, kept in columns as the shell sends it
// (src-tauri/src/inventory.rs), not as one object per VM. At 100 000 VMs,
// one object each plus a Map by id and a Set of ids per account held 43.6 MB
// of JavaScriptCore's live heap; these columns hold 15.5 MB (most of it the
// names and provider ids themselves) plus 5 MB of typed arrays, and load in
// a third of the time (scripts/bench-window-heap.sh; BENCHMARKS.md). A web
// process's heap grows to a multiple of what is live, so at that scale this
// is most of what the window's own data costs.
//
// Two ways to read a VM: `get(id)` makes a plain object, for the few VMs a
// view looks at (the rows in view, the details panel, a changed VM); a
// `Cursor` reads one row at a time without making anything, for the passes
// over every VM (filter, sort, counts).

/** @typedef {import("./types").Vm} Vm */
/** @typedef {import("./types").InventoryColumns} InventoryColumns */
/** @typedef {Vm["facts"]} Facts */

/** Marks in `flags`, as the shell sends them. */
const STALE = 1;
const WATCHED = 2;
/** One shared object for VMs without facts (most of a big fleet). */
const NO_FACTS = /** @type {Facts} */ (Object.freeze({}));

/**
 * Where each VM id is: a dense array while the ids are (SQLite's row ids
 * usually are), a Map if they turn out sparse. The dense array costs 4 bytes
 * per possible id where a Map costs about 84 per entry.
 */
class IdIndex {
  constructor() {
    /** @type {Int32Array | null} row + 1 by id; 0 for none */
    this.dense = new Int32Array(1024);
    /** @type {Map<number, number> | null} */
    this.sparse = null;
  }

  /** @param {number} id @returns {number} the row, or -1 */
  row(id) {
    if (this.dense) return Number.isInteger(id) && id >= 0 && id < this.dense.length ? this.dense[id] - 1 : -1;
    return /** @type {Map<number, number>} */ (this.sparse).get(id) ?? -1;
  }

  /**
   * @param {number} id @param {number} row
   * @param {number} count how many VMs the fleet holds (or will, once loaded):
   *   the dense array may grow to a few times that, never more
   */
  put(id, row, count) {
    if (this.dense && Number.isInteger(id) && id >= 0 && id < this.dense.length) {
      this.dense[id] = row + 1;
      return;
    }
    if (this.dense) {
      const want = Math.max(this.dense.length * 2, id + 1);
      if (Number.isInteger(id) && id >= 0 && want <= 8 * count + 4096) {
        const grown = new Int32Array(want);
        grown.set(this.dense);
        this.dense = grown;
        this.dense[id] = row + 1;
        return;
      }
      this.sparse = new Map();
      for (let i = 0; i < this.dense.length; i++) if (this.dense[i]) this.sparse.set(i, this.dense[i] - 1);
      this.dense = null;
    }
    /** @type {Map<number, number>} */ (this.sparse).set(id, row);
  }
}

/** @param {Int32Array | Float64Array | Uint8Array} a @param {number} length */
function grow(a, length) {
  const b = new /** @type {any} */ (a.constructor)(length);
  b.set(a);
  return b;
}

export class Fleet {
  constructor() {
    this.size = 0;
    /** Strings many VMs share (states, raw states, tools, locations). @type {string[]} */
    this.words = [];
    /** @type {Map<string, number>} */
    this.wordIds = new Map();
    this.index = new IdIndex();
    /** @type {Map<number, string>} account id → its name */
    this.accountNames = new Map();
    /** @type {Map<number, number>} account id → how many VMs it has here */
    this.perAccount = new Map();
    /** @type {Map<number, Facts>} row → facts, for the VMs that have any */
    this.facts = new Map();
    /** @type {string[]} */
    this.name = [];
    /** @type {string[]} */
    this.providerId = [];
    this.id = new Float64Array(16);
    this.accountId = new Float64Array(16);
    this.state = new Int32Array(16);
    this.rawState = new Int32Array(16);
    this.tools = new Int32Array(16);
    this.location = new Int32Array(16);
    this.flags = new Uint8Array(16);
    this.lastSeen = new Float64Array(16);
    this.lastChange = new Float64Array(16);
  }

  /**
   * The columns as the shell sends them; they are taken over, not copied
   * row by row into objects.
   * @param {InventoryColumns} c @param {Map<number, string>} accountNames
   */
  static fromColumns(c, accountNames) {
    const f = new Fleet();
    const n = c.id.length;
    if (n > f.id.length) f.resize(n);
    f.accountNames = new Map(accountNames);
    c.words.forEach((w, i) => f.wordIds.set(w, i));
    f.words = [...c.words];
    f.id.set(c.id);
    f.accountId.set(c.account_id);
    f.state.set(c.state);
    f.rawState.set(c.raw_state);
    f.tools.set(c.tools);
    f.location.set(c.location);
    f.flags.set(c.flags);
    f.lastSeen.set(c.last_seen_at);
    f.lastChange.set(c.last_state_change_at);
    f.name = c.name;
    f.providerId = c.provider_id;
    for (const [row, facts] of c.facts) f.facts.set(row, facts);
    f.size = n;
    for (let row = 0; row < n; row++) {
      f.index.put(c.id[row], row, n);
      f.countIn(c.account_id[row], 1);
    }
    return f;
  }

  /** A fleet of these VMs, in this order (the tests' inventories). @param {Vm[]} vms */
  static of(vms) {
    const f = new Fleet();
    for (const vm of vms) f.set(vm.id, vm);
    return f;
  }

  /** @param {string} w */
  word(w) {
    let i = this.wordIds.get(w);
    if (i === undefined) {
      i = this.words.length;
      this.words.push(w);
      this.wordIds.set(w, i);
    }
    return i;
  }

  /** @param {number} id */
  has(id) {
    return this.index.row(id) >= 0;
  }

  /** The VM as a plain object of its own (changing it changes nothing here). @param {number} id @returns {Vm | undefined} */
  get(id) {
    const row = this.index.row(id);
    return row < 0 ? undefined : this.at(row);
  }

  /** The row as a plain object of its own: the cursor's reading, copied. @param {number} row @returns {Vm} */
  at(row) {
    const c = this.cursor().to(row);
    return {
      id: c.id, account_id: c.account_id, account: c.account, provider_id: c.provider_id, name: c.name, state: c.state, raw_state: c.raw_state,
      tools: c.tools, location: c.location, facts: c.facts, stale: c.stale, watched: c.watched, last_seen_at: c.last_seen_at, last_state_change_at: c.last_state_change_at,
    };
  }

  /** Store a VM, new or changed (the signature is Map's). @param {number} id @param {Vm} vm */
  set(id, vm) {
    let row = this.index.row(id);
    if (row < 0) {
      row = this.size++;
      if (row === this.id.length) this.resize(row * 2);
      this.id[row] = id;
      this.index.put(id, row, this.size);
      this.countIn(vm.account_id, 1);
    } else if (this.accountId[row] !== vm.account_id) {
      this.countIn(this.accountId[row], -1);
      this.countIn(vm.account_id, 1);
    }
    this.accountId[row] = vm.account_id;
    if (vm.account) this.accountNames.set(vm.account_id, vm.account);
    this.providerId[row] = vm.provider_id;
    this.name[row] = vm.name;
    this.state[row] = this.word(vm.state);
    this.rawState[row] = this.word(vm.raw_state);
    this.tools[row] = vm.tools === null ? -1 : this.word(vm.tools);
    this.location[row] = vm.location === null ? -1 : this.word(vm.location);
    this.flags[row] = (vm.stale ? STALE : 0) | (vm.watched ? WATCHED : 0);
    this.lastSeen[row] = vm.last_seen_at;
    this.lastChange[row] = vm.last_state_change_at;
    if (vm.facts && Object.keys(vm.facts).length) this.facts.set(row, vm.facts);
    else this.facts.delete(row);
    return this;
  }

  /** @param {number} capacity */
  resize(capacity) {
    this.id = grow(this.id, capacity);
    this.accountId = grow(this.accountId, capacity);
    this.state = grow(this.state, capacity);
    this.rawState = grow(this.rawState, capacity);
    this.tools = grow(this.tools, capacity);
    this.location = grow(this.location, capacity);
    this.flags = grow(this.flags, capacity);
    this.lastSeen = grow(this.lastSeen, capacity);
    this.lastChange = grow(this.lastChange, capacity);
  }

  /**
   * Mark an account's VMs stale (its provider stopped answering), except
   * those already stale or missing, without making an object per VM.
   * @param {number} accountId @param {number | null} lastSeen @returns {number[]} the ids marked
   */
  markStale(accountId, lastSeen) {
    const missing = this.wordIds.get("missing");
    /** @type {number[]} */
    const marked = [];
    for (let row = 0; row < this.size; row++) {
      if (this.accountId[row] !== accountId || this.flags[row] & STALE || this.state[row] === missing) continue;
      this.flags[row] |= STALE;
      if (lastSeen !== null) this.lastSeen[row] = lastSeen;
      marked.push(this.id[row]);
    }
    return marked;
  }

  /** @param {number} accountId @param {1 | -1} d */
  countIn(accountId, d) {
    this.perAccount.set(accountId, (this.perAccount.get(accountId) ?? 0) + d);
  }

  /** @param {number} accountId */
  countOf(accountId) {
    return this.perAccount.get(accountId) ?? 0;
  }

  *keys() {
    for (let row = 0; row < this.size; row++) yield this.id[row];
  }

  /** Every VM as an object: for rare lookups, never for a pass a keystroke makes. */
  *values() {
    for (let row = 0; row < this.size; row++) yield this.at(row);
  }

  /** The first VM for which `test` holds, read through a cursor. @param {(vm: Vm) => boolean} test */
  find(test) {
    const cur = this.cursor();
    for (let row = 0; row < this.size; row++) if (test(cur.to(row))) return this.at(row);
    return undefined;
  }

  cursor() {
    return new Cursor(this);
  }
}

/**
 * One row read in place: it has a VM's fields, and reads them from the row
 * it is on. Move it with `to(row)` or `toId(id)`; never keep it as a VM.
 * @implements {Vm}
 */
export class Cursor {
  /** @param {Fleet} fleet */
  constructor(fleet) {
    this.fleet = fleet;
    this.row = 0;
  }

  /** @param {number} row @returns {Vm} */
  to(row) {
    this.row = row;
    return this;
  }

  /** @param {number} id @returns {Vm | undefined} */
  toId(id) {
    const row = this.fleet.index.row(id);
    if (row < 0) return undefined;
    this.row = row;
    return this;
  }

  get id() { return this.fleet.id[this.row]; }
  get account_id() { return this.fleet.accountId[this.row]; }
  get account() { return this.fleet.accountNames.get(this.fleet.accountId[this.row]) ?? ""; }
  get provider_id() { return this.fleet.providerId[this.row]; }
  get name() { return this.fleet.name[this.row]; }
  /** @returns {Vm["state"]} */
  get state() { return /** @type {Vm["state"]} */ (this.fleet.words[this.fleet.state[this.row]]); }
  get raw_state() { return this.fleet.words[this.fleet.rawState[this.row]]; }
  /** @returns {Vm["tools"]} */
  get tools() { const t = this.fleet.tools[this.row]; return t < 0 ? null : /** @type {Vm["tools"]} */ (this.fleet.words[t]); }
  /** @returns {string | null} */
  get location() { const l = this.fleet.location[this.row]; return l < 0 ? null : this.fleet.words[l]; }
  /** @returns {Facts} */
  get facts() { return this.fleet.facts.get(this.row) ?? NO_FACTS; }
  get stale() { return (this.fleet.flags[this.row] & STALE) !== 0; }
  get watched() { return (this.fleet.flags[this.row] & WATCHED) !== 0; }
  get last_seen_at() { return this.fleet.lastSeen[this.row]; }
  get last_state_change_at() { return this.fleet.lastChange[this.row]; }
}
