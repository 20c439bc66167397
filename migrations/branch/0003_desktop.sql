-- The desktop app's knowledge base: the tools of the relations employee (bylaws, social-research
-- guide, support policy guide, support request form), readable offline. Text and/or a file kept
-- in attachments. Rows come from HQ by sync ('hq') or from a branch administrator ('branch').
CREATE TABLE kb_documents (
    id           TEXT PRIMARY KEY,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL DEFAULT '',
    attachment   TEXT REFERENCES attachments(sha256),
    published_at TEXT NOT NULL,
    source       TEXT NOT NULL DEFAULT 'branch'
) STRICT;
