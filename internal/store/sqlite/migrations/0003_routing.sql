-- 0003: call routing (docs/routing.md). The rule and ring-group tables of 0001
-- gain what the Go model needs; the dial plan is the first row of a small
-- key/value settings table; extensions gain their permission classes.
--
--   * inbound_rules.settings / outbound_rules.settings: JSON of the rule fields
--     that are neither columns nor match/destination/routes (schedule and
--     after-hours destination; emergency, strategy and permission);
--   * ring_groups.enabled;
--   * extensions.permissions: a JSON array of classes, NULL = the defaults.

ALTER TABLE inbound_rules ADD COLUMN settings TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings));
ALTER TABLE outbound_rules ADD COLUMN settings TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings));
ALTER TABLE ring_groups ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1));
ALTER TABLE extensions ADD COLUMN permissions TEXT CHECK (permissions IS NULL OR json_valid(permissions));

CREATE TABLE settings (
    key        TEXT    NOT NULL PRIMARY KEY,
    value      TEXT    NOT NULL CHECK (json_valid(value)),
    updated_at INTEGER NOT NULL
) STRICT;
