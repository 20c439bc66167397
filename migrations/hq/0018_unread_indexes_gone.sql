-- Four indexes no statement of HQ reads, each written at every record stored: cases_device and
-- beneficiaries_device (0001: HQ reads a branch's records, by branch, never a device's),
-- case_facts_dashboard and record_facts_dashboard (0003: the dashboards once grouped the facts;
-- since 0016 they read the count tables, which the facts' triggers keep, and the facts are read
-- by their primary key only). A push of an intake wrote two of them for its case and one for its
-- person. Append-only: never edit once shipped.
DROP INDEX cases_device;
DROP INDEX beneficiaries_device;
DROP INDEX case_facts_dashboard;
DROP INDEX record_facts_dashboard;
