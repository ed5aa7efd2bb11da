//! A minimal `multipart/form-data` body with one file part, for the tag-value upload. Built by
//! hand because reqwest's `multipart` feature is not enabled; pure (the boundary is an
//! argument) so the exact bytes are testable and the simulator can parse them back.

/// The body bytes and the matching `Content-Type` header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartBody {
    /// `multipart/form-data; boundary=…`.
    pub content_type: String,
    /// The whole body.
    pub bytes: Vec<u8>,
}

/// One file part named `field` (RFC 7578). The file name is written as UTF-8 inside quotes, as
/// browsers and Spring's `MultipartFile` expect; callers must reject names holding `"`, CR or LF.
/// The boundary must not occur in `content`: [`file_part`] checks and fails if it does.
pub fn file_part(
    boundary: &str,
    field: &str,
    file_name: &str,
    content_type: &str,
    content: &[u8],
) -> Option<MultipartBody> {
    let delimiter = format!("--{boundary}");
    if contains(content, delimiter.as_bytes()) {
        return None;
    }
    let mut bytes = Vec::with_capacity(content.len() + 256);
    bytes.extend_from_slice(delimiter.as_bytes());
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(
        format!("Content-Disposition: form-data; name=\"{field}\"; filename=\"{file_name}\"\r\n")
            .as_bytes(),
    );
    bytes.extend_from_slice(format!("Content-Type: {content_type}\r\n\r\n").as_bytes());
    bytes.extend_from_slice(content);
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(delimiter.as_bytes());
    bytes.extend_from_slice(b"--\r\n");
    Some(MultipartBody {
        content_type: format!("multipart/form-data; boundary={boundary}"),
        bytes,
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
