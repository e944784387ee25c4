-- Uploaded files and what they are attached to, owned by the `read_models` projection
-- (projections/src/read_models/files.rs). The bytes are in the object store under `sha256`.
CREATE TABLE rm_files (
    file_id      uuid PRIMARY KEY,
    workspace_id uuid NOT NULL,
    uploaded_by  uuid NOT NULL,
    name         text NOT NULL,
    size         bigint NOT NULL,
    media_type   text NOT NULL,
    sha256       text NOT NULL,
    created_at   timestamptz NOT NULL,
    deleted      boolean NOT NULL DEFAULT false
);

-- A live message or doc showing a file (deleting the message or doc detaches it).
CREATE TABLE rm_attachments (
    subject_id uuid NOT NULL,
    file_id    uuid NOT NULL,
    -- 'message' | 'doc'
    kind       text NOT NULL,
    PRIMARY KEY (subject_id, file_id)
);
CREATE INDEX rm_attachments_file ON rm_attachments (file_id);

-- What the read models show of each attachment, kept on the row so a page is one scan.
ALTER TABLE rm_messages ADD COLUMN attachments jsonb NOT NULL DEFAULT '[]';
ALTER TABLE rm_docs ADD COLUMN attachments jsonb NOT NULL DEFAULT '[]';
