-- The twin of migrations/hq/0018_unread_indexes_gone.sql: four indexes no statement of HQ reads,
-- each written at every record stored: cases_device and beneficiaries_device (0001; HQ reads a
-- branch's records, by branch), case_facts_dashboard and record_facts_dashboard (0001; the
-- dashboards read the count tables of 0011, and the facts are read by their primary key only,
-- by the count triggers and rebuild_derived()'s scans). Append-only: never edit once shipped.
DROP INDEX cases_device;
DROP INDEX beneficiaries_device;
DROP INDEX case_facts_dashboard;
DROP INDEX record_facts_dashboard;
