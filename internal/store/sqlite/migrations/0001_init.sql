-- 0001: the whole schema Trunkline needs for extensions, registrations, CDRs, and
-- (not yet used by Go code) trunks, DIDs, inbound/outbound rules and ring groups.
--
-- Conventions:
--   * times are INTEGER unix nanoseconds, UTC; 0 means "unset" (the Go zero time);
--   * booleans are INTEGER 0/1;
--   * structured settings are JSON text, checked with json_valid so a bad write
--     fails here instead of at the next load;
--   * names and numbers are TEXT primary keys: they are what the API addresses.

CREATE TABLE extensions (
    number     TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL DEFAULT '',
    password   TEXT    NOT NULL,
    caller_id  TEXT    NOT NULL DEFAULT '',
    max_calls  INTEGER NOT NULL DEFAULT 0 CHECK (max_calls >= 0),
    disabled   INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- Registrar bindings (RFC 3261 §10), one row per (address of record, contact).
CREATE TABLE bindings (
    aor        TEXT    NOT NULL,
    contact    TEXT    NOT NULL,
    source     TEXT    NOT NULL DEFAULT '',
    transport  TEXT    NOT NULL DEFAULT '',
    expires    INTEGER NOT NULL,
    call_id    TEXT    NOT NULL DEFAULT '',
    cseq       INTEGER NOT NULL DEFAULT 0,
    user_agent TEXT    NOT NULL DEFAULT '',
    q          REAL    NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (aor, contact)
) STRICT;

CREATE INDEX bindings_expires ON bindings (expires);

-- Call detail records, append-only. id is the rowid (AUTOINCREMENT: never reused,
-- so a paging cursor stays valid), which already gives an ordered b-tree that
-- "ORDER BY id DESC" walks backwards; a separate index on id would only duplicate it.
CREATE TABLE cdrs (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id              TEXT    NOT NULL DEFAULT '',
    caller               TEXT    NOT NULL DEFAULT '',
    callee               TEXT    NOT NULL DEFAULT '',
    direction            TEXT    NOT NULL DEFAULT '',
    trunk                TEXT    NOT NULL DEFAULT '',
    start_time           INTEGER NOT NULL,
    answer_time          INTEGER,            -- NULL: never answered
    end_time             INTEGER NOT NULL,
    duration             INTEGER NOT NULL DEFAULT 0,
    billsec              INTEGER NOT NULL DEFAULT 0,
    disposition          TEXT    NOT NULL DEFAULT '',
    hangup_by            TEXT    NOT NULL DEFAULT '',
    hangup_cause         TEXT    NOT NULL DEFAULT '',
    sip_code             INTEGER NOT NULL DEFAULT 0,
    rtp_caller_to_callee INTEGER NOT NULL DEFAULT 0,
    rtp_callee_to_caller INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX cdrs_start_time ON cdrs (start_time);
CREATE INDEX cdrs_call_id ON cdrs (call_id);
CREATE INDEX cdrs_trunk_start ON cdrs (trunk, start_time) WHERE trunk <> '';

-- SIP trunks. kind is e.g. "register" (we register to the provider), "ip" (the
-- provider sends from known addresses) or "accept_register" (the peer registers to
-- us); everything kind-specific (host, credentials, codecs, limits) lives in settings.
CREATE TABLE trunks (
    name       TEXT    NOT NULL PRIMARY KEY,
    kind       TEXT    NOT NULL,
    enabled    INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    settings   TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- Numbers (DIDs) a trunk delivers. extension is a plain number, not a foreign key:
-- a DID may later point at a ring group, and deleting an extension must not rewrite
-- routing silently. Renaming a trunk carries its DIDs; deleting it removes them.
CREATE TABLE trunk_dids (
    did        TEXT    NOT NULL PRIMARY KEY,
    trunk_name TEXT    NOT NULL REFERENCES trunks (name) ON UPDATE CASCADE ON DELETE CASCADE,
    extension  TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX trunk_dids_trunk ON trunk_dids (trunk_name);

-- Inbound rules: calls arriving from trunk (NULL = any trunk) whose numbers satisfy
-- match (JSON: patterns on DID / caller, time conditions) go to destination (JSON:
-- extension, ring group, rewrite). Lower priority is tried first; id breaks ties.
-- A trunk in use by a rule cannot be deleted (foreign key, no action).
CREATE TABLE inbound_rules (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    priority    INTEGER NOT NULL DEFAULT 0,
    name        TEXT    NOT NULL UNIQUE,
    trunk       TEXT    REFERENCES trunks (name) ON UPDATE CASCADE,
    match       TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(match)),
    destination TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(destination)),
    enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX inbound_rules_order ON inbound_rules (priority, id);

-- Outbound rules: calls from extensions whose dialled number satisfies match go out
-- over routes (JSON array, tried in order: trunk name + number rewrite + caller ID).
-- trunk optionally restricts the rule to one trunk family / primary trunk (NULL = the
-- routes decide); kept as a column so listing rules by trunk needs no JSON scan.
CREATE TABLE outbound_rules (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    priority   INTEGER NOT NULL DEFAULT 0,
    name       TEXT    NOT NULL UNIQUE,
    trunk      TEXT    REFERENCES trunks (name) ON UPDATE CASCADE,
    match      TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(match)),
    routes     TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(routes)),
    enabled    INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE INDEX outbound_rules_order ON outbound_rules (priority, id);

-- Ring groups: strategy is e.g. "simultaneous" or "sequential"; members is a JSON
-- array of extension numbers; timeout is in seconds (0 = default).
CREATE TABLE ring_groups (
    name       TEXT    NOT NULL PRIMARY KEY,
    strategy   TEXT    NOT NULL DEFAULT 'simultaneous',
    members    TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(members)),
    timeout    INTEGER NOT NULL DEFAULT 0 CHECK (timeout >= 0),
    created_at INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL DEFAULT 0
) STRICT;
