-- 0004: bindings are written in bulk by the location service's flush (every
-- 500 ms, one row per changed contact: docs/benchmarks.md, P1). Two changes make
-- each row cheaper:
--
--   * WITHOUT ROWID: the table is its (aor, contact) primary-key B-tree, so an
--     upsert touches one tree instead of the rowid table plus the key's index;
--   * no index on expires: it was rewritten on every refresh to serve a sweep that
--     runs every 15 s; that sweep now scans the table (100k rows: milliseconds).

CREATE TABLE bindings_new (
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
) STRICT, WITHOUT ROWID;

INSERT INTO bindings_new SELECT aor, contact, source, transport, expires, call_id, cseq,
    user_agent, q, updated_at FROM bindings;
DROP TABLE bindings;
ALTER TABLE bindings_new RENAME TO bindings;
