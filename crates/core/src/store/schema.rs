//! Every schema change, in order, in one place. `PRAGMA user_version` says
//! how many have been applied. Never edit a released migration; append one.

pub const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "
    CREATE TABLE accounts (
        id              INTEGER PRIMARY KEY,
        name            TEXT NOT NULL UNIQUE,
        kind            TEXT NOT NULL,
        config          TEXT NOT NULL,          -- JSON, never secrets
        secret_ref      TEXT,                   -- JSON SecretRef: where the secret lives, not what it is
        is_demo         INTEGER NOT NULL DEFAULT 0,
        created_at      INTEGER NOT NULL,
        last_contact_at INTEGER
    );

    CREATE TABLE vms (
        id                   INTEGER PRIMARY KEY,
        account_id           INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        provider_id          TEXT NOT NULL,
        name                 TEXT NOT NULL,
        state                TEXT NOT NULL,
        raw_state            TEXT NOT NULL,
        tools                TEXT,
        location             TEXT,
        stale                INTEGER NOT NULL DEFAULT 0,
        watched              INTEGER NOT NULL DEFAULT 0,
        last_seen_at         INTEGER NOT NULL,
        last_state_change_at INTEGER NOT NULL,
        UNIQUE (account_id, provider_id)
    );
    CREATE INDEX vms_name ON vms(name);
    CREATE INDEX vms_state ON vms(account_id, state);

    CREATE TABLE operations (
        id                  INTEGER PRIMARY KEY,
        vm_id               INTEGER NOT NULL REFERENCES vms(id) ON DELETE CASCADE,
        kind                TEXT NOT NULL,
        phase               TEXT NOT NULL,
        allow_force         INTEGER NOT NULL,
        graceful_timeout_ms INTEGER NOT NULL,
        timeout_ms          INTEGER NOT NULL,
        requested_at        INTEGER NOT NULL,
        deadline_at         INTEGER NOT NULL,
        forced_at           INTEGER,
        finished_at         INTEGER,
        previous_state      TEXT,
        new_state           TEXT,
        shutdown_method     TEXT,
        job_id              TEXT,
        job_done            INTEGER NOT NULL DEFAULT 0,
        saw_transition      INTEGER NOT NULL DEFAULT 0,
        error               TEXT,
        owner               TEXT,               -- the process tracking it
        owner_pid           INTEGER,
        heartbeat_at        INTEGER
    );
    -- One operation in flight per VM, enforced where every process sees it.
    CREATE UNIQUE INDEX operations_one_in_flight ON operations(vm_id)
        WHERE phase IN ('submitted', 'tracking', 'verifying');
    CREATE INDEX operations_recent ON operations(requested_at);

    CREATE TABLE history (
        id           INTEGER PRIMARY KEY,
        vm_id        INTEGER NOT NULL REFERENCES vms(id) ON DELETE CASCADE,
        at           INTEGER NOT NULL,
        from_state   TEXT,
        to_state     TEXT NOT NULL,
        raw_state    TEXT NOT NULL,
        source       TEXT NOT NULL,
        operation_id INTEGER REFERENCES operations(id) ON DELETE SET NULL
    );
    CREATE INDEX history_vm ON history(vm_id, id);
    CREATE TRIGGER history_append_only BEFORE UPDATE OF vm_id, at, from_state, to_state, raw_state, source ON history
    BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;

    -- Reserved for the schedule engine.
    CREATE TABLE schedules (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        cron        TEXT NOT NULL,
        timezone    TEXT NOT NULL,
        action      TEXT NOT NULL,
        selector    TEXT NOT NULL,
        enabled     INTEGER NOT NULL DEFAULT 1,
        catch_up    INTEGER NOT NULL DEFAULT 0,
        last_run_at INTEGER
    );

    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    ",
    // 2: a start may wait for the guest's tools to report running.
    "ALTER TABLE operations ADD COLUMN wait_tools INTEGER NOT NULL DEFAULT 0;",
    // 3: what the provider says about a VM besides its state (JSON object).
    "ALTER TABLE vms ADD COLUMN facts TEXT;",
    // 4: when the provider accepted the request: the graceful window counts
    // from here, and an operation without it was never confirmed as sent.
    "ALTER TABLE operations ADD COLUMN submitted_at INTEGER;
     UPDATE operations SET submitted_at = requested_at WHERE phase != 'submitted';",
    // 5: why an operation failed (a kind front ends act on); the verification
    // mismatch count, persisted so an adopter carries on; a user's request to
    // cancel or force now; and one lease row per tracking process instead of
    // a heartbeat written to every operation it tracks.
    "ALTER TABLE operations ADD COLUMN failure TEXT;
     ALTER TABLE operations ADD COLUMN mismatches INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE operations ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE operations ADD COLUMN force_requested INTEGER NOT NULL DEFAULT 0;
     CREATE TABLE leases (owner TEXT PRIMARY KEY, pid INTEGER NOT NULL, heartbeat_at INTEGER NOT NULL);
     CREATE INDEX operations_active ON operations(owner) WHERE phase IN ('submitted', 'tracking', 'verifying');",
    // 6: the exact change log between processes (AUTOINCREMENT: ids are
    // never reused after pruning, so a reader's cursor stays valid).
    "CREATE TABLE outbox (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        at      INTEGER NOT NULL,
        origin  TEXT NOT NULL,   -- the store (process) that wrote it
        payload TEXT NOT NULL    -- JSON: what changed
     );
     CREATE INDEX outbox_at ON outbox(at);",
    // 7: who asked for an operation; batches (a bulk action, a runbook
    // step) that group operations; saved groups; runbooks and their runs.
    "ALTER TABLE operations ADD COLUMN initiator TEXT;
     ALTER TABLE operations ADD COLUMN batch_id INTEGER REFERENCES batches(id) ON DELETE SET NULL;
     CREATE TABLE batches (
        id           INTEGER PRIMARY KEY,
        label        TEXT NOT NULL,          -- 'Stop 25 VMs', 'failover: step 2 (start new side)'
        kind         TEXT NOT NULL,          -- the operation kind
        initiator    TEXT NOT NULL,
        run_id       INTEGER REFERENCES runbook_runs(id) ON DELETE CASCADE,
        created_at   INTEGER NOT NULL,
        finished_at  INTEGER,
        sealed       INTEGER NOT NULL DEFAULT 0, -- every operation of it is journalled
        announced    INTEGER NOT NULL DEFAULT 0  -- its summary was published
     );
     CREATE INDEX operations_batch ON operations(batch_id) WHERE batch_id IS NOT NULL;
     CREATE TABLE groups (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE,
        vms        TEXT NOT NULL DEFAULT '[]',   -- JSON: explicit VM ids
        rule       TEXT,                         -- JSON GroupRule, evaluated when used
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
     );
     CREATE TABLE runbooks (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE,
        definition TEXT NOT NULL,               -- JSON Runbook
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
     );
     CREATE TABLE runbook_runs (
        id           INTEGER PRIMARY KEY,
        runbook_id   INTEGER REFERENCES runbooks(id) ON DELETE SET NULL,
        name         TEXT NOT NULL,
        plan         TEXT NOT NULL,             -- JSON RunPlan: the approved plan, resolved to VMs
        phase        TEXT NOT NULL,
        step         INTEGER NOT NULL DEFAULT 0,  -- the step under way (forward or rolling back)
        rolling_back INTEGER NOT NULL DEFAULT 0,
        initiator    TEXT NOT NULL,
        owner        TEXT,
        owner_pid    INTEGER,
        requested_at INTEGER NOT NULL,
        finished_at  INTEGER,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        rollback_requested INTEGER NOT NULL DEFAULT 0,
        summary      TEXT
     );
     CREATE INDEX runbook_runs_active ON runbook_runs(phase) WHERE phase IN ('running', 'rolling-back');
     CREATE TABLE run_steps (
        run_id     INTEGER NOT NULL REFERENCES runbook_runs(id) ON DELETE CASCADE,
        step       INTEGER NOT NULL,
        rollback   INTEGER NOT NULL DEFAULT 0,
        batch_id   INTEGER REFERENCES batches(id),
        phase      TEXT NOT NULL,              -- running | done | failed | skipped
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        PRIMARY KEY (run_id, step, rollback)
     );",
    // 8: schedules (the table reserved in 1 was never written) and their
    // firings, each claimed once by a unique key.
    "DROP TABLE schedules;
     CREATE TABLE schedules (
        id            INTEGER PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE,
        definition    TEXT NOT NULL,          -- JSON Schedule
        enabled       INTEGER NOT NULL DEFAULT 1,
        checked_until INTEGER NOT NULL,       -- occurrences up to here are handled
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL
     );
     CREATE TABLE schedule_firings (
        id          INTEGER PRIMARY KEY,
        schedule_id INTEGER NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
        occurrence  INTEGER NOT NULL,         -- when it was due (run now: when asked)
        purpose     TEXT NOT NULL,            -- scheduled | manual | enforce
        edge        TEXT NOT NULL,            -- run | start | end
        status      TEXT NOT NULL,            -- claimed | started | skipped | missed | failed | nothing
        late_ms     INTEGER NOT NULL DEFAULT 0,
        owner       TEXT,
        owner_pid   INTEGER,
        claimed_at  INTEGER NOT NULL,
        batch_id    INTEGER REFERENCES batches(id) ON DELETE SET NULL,
        run_id      INTEGER REFERENCES runbook_runs(id) ON DELETE SET NULL,
        note        TEXT,
        UNIQUE (schedule_id, occurrence, purpose)
     );
     CREATE INDEX schedule_firings_claimed ON schedule_firings(status) WHERE status = 'claimed';",
    // 9: when Powerdeck was watching each account (the hours report counts
    // time outside it as unknown); history by VM and time, for a report's
    // "state at the start of the range", and by time, for its scan.
    "CREATE TABLE coverage (
        id         INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        from_ms    INTEGER NOT NULL,
        to_ms      INTEGER NOT NULL
     );
     CREATE INDEX coverage_account ON coverage(account_id, to_ms);
     CREATE INDEX history_vm_at ON history(vm_id, at);
     -- The hours report reads a range of history in time order; this index
     -- holds all it needs, so the scan never touches the wider table rows.
     CREATE INDEX history_at ON history(at, vm_id, to_state, operation_id);",
    // 10: the watched tier finds an account's few favourites without
    // reading all its VMs (idle cost must not grow with the fleet).
    "CREATE INDEX vms_watched ON vms(account_id) WHERE watched = 1;",
];
