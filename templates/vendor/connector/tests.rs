//! The signer, pinned by a vector from
//! `printf '1700000000\n{"name":"a"}' | openssl dgst -sha256 -hmac s3cret`.

use super::sign::signature;

#[test]
fn the_signature_is_hmac_sha256_over_ts_newline_body() {
    assert_eq!(
        signature("s3cret", 1_700_000_000, br#"{"name":"a"}"#),
        "640d13f0781346cdf283df754f95baea8674452ff47ea5035691a46ffbd92d68"
    );
}
