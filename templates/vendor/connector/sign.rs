//! The pure signer: `hex(hmac_sha256(secret, "<ts>\n<body>"))`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The signature of `body` sent at unix second `ts`.
pub fn signature(secret: &str, ts: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(ts.to_string().as_bytes());
    mac.update(b"\n");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}
