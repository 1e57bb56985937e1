-- Eval reports (hindsight eval run / replay), as migrations/sqlite/0003_eval_reports.sql. A report
-- over one tenant's drafts is stored under that tenant and served to it; a report over several
-- tenants is stored under '' and served to none, and each of its tenants gets its own report of only
-- its drafts under the same id.
CREATE TABLE eval_reports (
	id         text        NOT NULL,
	tenant     text        NOT NULL,   -- '' : a report over several tenants (operators only)
	-- seq orders reports made within the same microsecond as they were first stored.
	seq        bigint      GENERATED ALWAYS AS IDENTITY,
	kind       text        NOT NULL,   -- run or replay
	created_at timestamptz NOT NULL,
	drafts     integer     NOT NULL,
	report     json        NOT NULL,
	PRIMARY KEY (id, tenant)
);
CREATE INDEX eval_reports_latest ON eval_reports (tenant, created_at, seq);
