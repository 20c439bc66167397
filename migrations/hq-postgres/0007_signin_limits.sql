-- The console's sign-in limits in the database, shared by every `sila-hq serve` on it (issue
-- 12.4): attempts split across servers are limited as if they came to one. Append-only: never
-- edit once shipped.
--
-- signin_limits: the counts of one user name or one address (crates/sila-hq/src/rules/signin.rs; the same as migrations/hq/0013_signin_limits.sql);
-- the key is a SHA-256, never the name or the address. Times are milliseconds since the Unix
-- epoch. A row with nothing left to count is deleted, and idle ones are forgotten.
CREATE TABLE signin_limits (
    key        TEXT PRIMARY KEY,
    failures   BIGINT NOT NULL,
    in_flight  BIGINT NOT NULL,
    flight_at  BIGINT NOT NULL,
    last_at    BIGINT NOT NULL,
    wait_until BIGINT NOT NULL
);
CREATE INDEX signin_limits_last ON signin_limits (last_at);

-- The (address, name) pairs that signed in, and when: such a name is spared its address's
-- back-off (a TLS proxy's one address must not let a guesser lock everyone out).
CREATE TABLE signin_known (
    address TEXT NOT NULL,
    name    TEXT NOT NULL,
    at      BIGINT NOT NULL,
    PRIMARY KEY (address, name)
);
CREATE INDEX signin_known_at ON signin_known (at);
