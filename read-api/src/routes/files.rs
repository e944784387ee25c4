//! `GET /v1/files/{id}` (the bytes) and `GET /v1/files/{id}/meta`.
//!
//! A file may be read by its uploader, and by whoever may read something that shows it now: a
//! message (its channel's members, a conversation's two people, a `read` key of the channel's
//! workspace) or a doc (its workspace's members and keys). Anyone else gets 404, as if it did
//! not exist. The bytes go out as an attachment that no browser renders: `Content-Disposition:
//! attachment`, `X-Content-Type-Options: nosniff` and a sandboxing `Content-Security-Policy`.

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures::StreamExt;
use prism_domain::{DocId, MessageId, WorkspaceId};
use prism_projections::read_models::files::{self, FileMeta};
use prism_projections::read_models::{docs, messages};
use uuid::Uuid;

use crate::consistency::At;
use crate::error::ReadError;
use crate::extract::{ApiPath, Reader};
use crate::AppState;

/// The file, if `who` may read it; else 404.
async fn readable(s: &AppState, id: Uuid, who: Reader, at: i64) -> Result<FileMeta, ReadError> {
    let file = files::meta(&s.reads(), id).await?.ok_or(ReadError::NotFound)?;
    if matches!(who, Reader::User(u) if u.0 == file.uploaded_by) {
        return Ok(file);
    }
    for (kind, subject) in files::shown_by(&s.reads(), id).await? {
        let may = match kind.as_str() {
            "message" => match messages::get(&s.reads(), MessageId(subject)).await? {
                Some(m) if !m.deleted => super::messages::can_read(s, m.channel_id, who, at).await.is_ok(),
                _ => false,
            },
            "doc" => match docs::get(&s.reads(), DocId(subject)).await? {
                Some(d) => super::role(&s.reads(), WorkspaceId(d.workspace_id), who).await.is_ok(),
                None => false,
            },
            _ => false,
        };
        if may {
            return Ok(file);
        }
    }
    Err(ReadError::NotFound)
}

#[utoipa::path(get, path = "/v1/files/{id}/meta", tag = "files",
    description = "a file's name, size, sniffed media type and SHA-256 (its uploader, or whoever may read what shows it)",
    params(("id" = Uuid, Path, description = "the file"), ("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")),
    responses((status = 200, body = FileMeta), (status = 401), (status = 403), (status = 404), (status = 503, description = "projection_behind")))]
pub async fn meta(
    State(s): State<AppState>,
    who: Reader,
    ApiPath(id): ApiPath<Uuid>,
    Extension(At(at)): Extension<At>,
) -> Result<Json<FileMeta>, ReadError> {
    readable(&s, id, who, at).await.map(Json)
}

#[utoipa::path(get, path = "/v1/files/{id}", tag = "files",
    description = "the file's bytes, as an attachment (its uploader, or whoever may read what shows it)",
    params(("id" = Uuid, Path, description = "the file"), ("X-Min-Position" = Option<i64>, Header, description = "wait until the read models reach this position")),
    responses((status = 200, content_type = "application/octet-stream"), (status = 401), (status = 403), (status = 404), (status = 503, description = "projection_behind or no file store")))]
pub async fn download(
    State(s): State<AppState>,
    who: Reader,
    ApiPath(id): ApiPath<Uuid>,
    Extension(At(at)): Extension<At>,
) -> Result<Response, ReadError> {
    let file = readable(&s, id, who, at).await?;
    let blobs = s
        .blobs
        .as_ref()
        .ok_or_else(|| ReadError::Unavailable("no file store is configured".into()))?;
    let (size, bytes) = blobs.get(&file.sha256).await.map_err(|e| match e {
        prism_blobs::BlobError::NotFound => ReadError::NotFound,
        e => ReadError::Unavailable(e.to_string()),
    })?;
    let body = Body::from_stream(bytes.map(|c| c.map_err(std::io::Error::other)));
    Ok((
        [
            (header::CONTENT_TYPE, served_as(&file.media_type).to_owned()),
            (header::CONTENT_LENGTH, size.to_string()),
            (header::CONTENT_DISPOSITION, disposition(&file.name)),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox".to_owned(),
            ),
            (header::CACHE_CONTROL, "private, no-cache".to_owned()),
            (header::ETAG, format!("\"{}\"", file.sha256)),
        ],
        body,
    )
        .into_response())
}

/// What a download is served as: its type, unless a browser could run it (markup, scripts,
/// SVG), which goes as opaque bytes (a client that opens a fetched file as a blob URL must not
/// render it in the app's origin). `/meta` says what it is.
fn served_as(media_type: &str) -> &str {
    let active = [
        "text/html",
        "application/xhtml+xml",
        "text/xml",
        "application/xml",
        "image/svg+xml",
        "text/javascript",
        "application/javascript",
    ];
    if active.contains(&media_type) {
        "application/octet-stream"
    } else {
        media_type
    }
}

/// `attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>` (RFC 6266).
fn disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_name_cannot_break_out_of_its_header() {
        assert_eq!(
            super::disposition("a\"b\\c ü.pdf"),
            "attachment; filename=\"a_b_c _.pdf\"; filename*=UTF-8''a%22b%5Cc%20%C3%BC.pdf"
        );
    }
}
