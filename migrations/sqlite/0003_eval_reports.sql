-- Eval reports (hindsight eval run / replay). A report over one tenant's drafts is stored under that
-- tenant and served to it; a report over several tenants is stored under '' and served to none, and
-- each of its tenants gets its own report of only its drafts under the same id.
CREATE TABLE eval_reports (
	id         TEXT    NOT NULL,
	tenant     TEXT    NOT NULL,   -- '' : a report over several tenants (operators only)
	kind       TEXT    NOT NULL,   -- run or replay
	created_at INTEGER NOT NULL,   -- unix nanoseconds
	drafts     INTEGER NOT NULL,
	report     TEXT    NOT NULL,   -- the report as JSON
	PRIMARY KEY (id, tenant)
);
CREATE INDEX eval_reports_latest ON eval_reports (tenant, created_at);
