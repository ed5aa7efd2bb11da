//! What a Linkflow endpoint answers: the error body with its B-code, bare HTTP errors for what
//! Linkflow documents no body for, and the success shapes.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// One Linkflow error answer.
pub(super) struct Fail {
    pub(super) status: u16,
    pub(super) code: &'static str,
    pub(super) message: String,
}

pub(super) fn fail(status: u16, code: &'static str, message: impl Into<String>) -> Fail {
    Fail {
        status,
        code,
        message: message.into(),
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (
            status,
            Json(json!({"domain": "linkflow", "code": self.code, "message": self.message})),
        )
            .into_response()
    }
}

pub(super) type Answer = Result<Response, Fail>;

pub(super) fn ok_json(value: Value) -> Answer {
    Ok((StatusCode::OK, Json(value)).into_response())
}

pub(super) fn ok_empty() -> Answer {
    Ok(StatusCode::OK.into_response())
}

/// A bare HTTP error without Linkflow's error body, for what Linkflow documents no body for.
pub(super) fn bare(status: StatusCode, reason: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        reason.to_string(),
    )
        .into_response()
}

pub(super) fn injected(status: u16, code: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    (
        status,
        Json(json!({"domain": "linkflow", "code": code, "message": message})),
    )
        .into_response()
}
