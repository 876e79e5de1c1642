-- A run's window is walked in time slices, several at once. Each slice remembers
-- the next page to read, committed with the page before it, so an interrupted
-- run resumes where it stopped.
CREATE TABLE sync_slices (
    run_id         INTEGER NOT NULL REFERENCES sync_runs (id),
    slice          INTEGER NOT NULL,
    window_start   TEXT NOT NULL,
    window_end     TEXT NOT NULL,
    next_page_url  TEXT,
    done           INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, slice)
);
