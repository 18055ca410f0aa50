-- The database-mode schema of every target (see CONTRACT.md, "Database mode").
--
-- The one file that creates and seeds everything. Idempotent and plain SQL (no psql
-- meta-commands), so any client can apply it, e.g.
--   psql -v ON_ERROR_STOP=1 -d DBNAME -f targets/schema.sql
-- A second application changes nothing and returns at once: tables and the index are
-- created only if missing, and the users are seeded only while user 1000000 is absent
-- (the seed is one DO block, one transaction: all there or not at all).

CREATE TABLE IF NOT EXISTS users (
    id    bigint PRIMARY KEY,
    name  text   NOT NULL,
    email text   NOT NULL
);

CREATE TABLE IF NOT EXISTS orders (
    id         bigserial        PRIMARY KEY,
    user_id    bigint           NOT NULL,
    total      double precision NOT NULL,
    status     text             NOT NULL,
    -- Unix epoch milliseconds, taken by the server when it served the POST.
    created_at bigint           NOT NULL
);

-- GET /api/users/{id}/orders reads a user's newest orders through this index alone.
CREATE INDEX IF NOT EXISTS orders_user_id_id_idx ON orders (user_id, id DESC);

CREATE TABLE IF NOT EXISTS order_items (
    order_id   bigint           NOT NULL REFERENCES orders (id),
    -- 1-based position of the item in the request, so items read back in request order.
    position   int              NOT NULL,
    product_id bigint           NOT NULL,
    quantity   bigint           NOT NULL,
    price      double precision NOT NULL,
    PRIMARY KEY (order_id, position)
);

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM users WHERE id = 1000000) THEN
        -- The table holds only the seed, so a partial one (rows added by hand) is replaced.
        -- Loading without the primary key and building it once afterwards takes about
        -- half the time of maintaining the index row by row.
        TRUNCATE users;
        ALTER TABLE users DROP CONSTRAINT users_pkey;
        INSERT INTO users (id, name, email)
        SELECT n, 'User ' || n, 'user' || n || '@example.com'
        FROM generate_series(1, 1000000) AS n;
        ALTER TABLE users ADD CONSTRAINT users_pkey PRIMARY KEY (id);
        -- Planner statistics now rather than whenever autovacuum gets to it.
        ANALYZE users;
    END IF;
END
$$;
