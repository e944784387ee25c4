//! `POST /v1/workspaces/{id}/files`: a member uploads one file (multipart, field `file`).
//!
//! Membership is checked before a byte of the body is read. The body is streamed to a staged
//! file — hashed, counted (413 as soon as it passes the limit, `PRISM_MAX_UPLOAD_BYTES`,
//! 25 MiB by default), its media type sniffed — then stored by content and recorded as
//! `file.uploaded`. The client's name is kept (its last path segment); its claimed type is not.

use axum::extract::{Multipart, State};
use prism_blobs::BlobError;
use prism_commands::CommandError;
use prism_domain::WorkspaceId;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::answer::ApiResult;
use crate::error::ApiError;
use crate::extract::{ApiPath, CommandHeaders, MemberOrKey};
use crate::routes::ErrorBody;
use crate::AppState;

/// The upload form: one part named `file`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// An uploaded file, as its 201 says.
#[derive(Serialize, ToSchema)]
pub struct Uploaded {
    pub id: Uuid,
    pub position: i64,
    pub version: i64,
    pub name: String,
    pub size: u64,
    /// Sniffed from the bytes.
    pub media_type: String,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
}

#[utoipa::path(post, path = "/v1/workspaces/{id}/files", tag = "files",
    params(("id" = Uuid, Path, description = "the workspace")),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = Uploaded), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody, description = "no file store")))]
pub async fn upload(
    State(s): State<AppState>,
    MemberOrKey(a): MemberOrKey,
    h: CommandHeaders,
    ApiPath(ws): ApiPath<Uuid>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult {
    let ws = WorkspaceId(ws);
    s.commands.may_upload(&h.context(a, &ws), ws).await?;
    let mut multipart = multipart.map_err(|_| ApiError::UnsupportedMediaType)?;
    let blobs = s.commands.blobs()?;
    loop {
        let field = multipart
            .next_field()
            .await
            .map_err(|e| multipart_error(&e))?
            .ok_or_else(|| ApiError::bad_request("missing_file", "the form has no part named `file`"))?;
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("file").to_owned();
        // The body's own limit (the file's plus the envelope's slack) may be what stops a big
        // upload mid-chunk, as a stream error rather than the staging's count: a 413 either way.
        let over_limit = std::sync::atomic::AtomicBool::new(false);
        let body = futures::TryStreamExt::inspect_err(field, |e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                over_limit.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        });
        let staged = match blobs.stage(body, s.max_upload).await {
            Ok(staged) => staged,
            Err(BlobError::TooLarge { .. }) => return Err(ApiError::TooLarge),
            Err(_) if over_limit.load(std::sync::atomic::Ordering::Relaxed) => return Err(ApiError::TooLarge),
            Err(e) => return Err(CommandError::from(e).into()),
        };
        let ctx = h.context(a, &(ws, &name, &staged.sha256));
        return Ok(s.commands.upload_file(&ctx, ws, &name, staged).await?.into());
    }
}

fn multipart_error(e: &axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge
    } else {
        ApiError::bad_request("invalid_multipart", e.body_text())
    }
}
