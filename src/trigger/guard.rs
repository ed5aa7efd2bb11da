//! What protects a push path beyond the vendor's signature: who may push (`allow_from`, judged
//! by the peer address, or by `X-Forwarded-For` only when the peer is one of `trusted_proxies`),
//! and which pushes reuse a signature with another body (the replay guard).
//!
//! Why this exists: Tencent's push signature covers only the token and a timestamp, never the
//! body (spec §3.4 (ii)), so anyone who sees the headers of one genuine push can send arbitrary
//! leads with them for the ±300 s the timestamp stays valid. Waiqin's digest covers the `data`
//! it carries, so it needs no replay guard; both get `allow_from`.
//!
//! Pure and synchronous (no axum, no I/O, no clock of its own) so every rule is unit-tested
//! here; `webhook.rs` applies them. It must not log: the caller logs with the path and account.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

// Parsed by `config` (which validates `allow_from` and `trusted_proxies` when the file is read);
// applied here.
pub use crate::config::NetList;

/// Why the address a push came from cannot be told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientAddrError {
    /// A trusted proxy passed on an `X-Forwarded-For` entry that is not an address.
    #[error("X-Forwarded-For entry {0:?} (passed on by a trusted proxy) is not an IP address")]
    Unparsable(String),
}

/// The address a push is judged by.
///
/// `forwarded_for` holds the `X-Forwarded-For` header values in the order they arrived (several
/// header lines are one comma-separated list, RFC 9110 §5.3).
///
/// The header is believed only from a trusted proxy: anyone can send it, so from any other peer
/// the peer address itself is the answer. From a trusted proxy we use the standard right-most
/// algorithm: each proxy *appends* the address it received the request from, so the list reads
/// left (farthest, and freely written by the client) to right (nearest). Walking from the right,
/// every entry that is itself a trusted proxy was added by a proxy we trust about a hop we also
/// trust, so we keep walking; the first entry that is not a trusted proxy was appended by a
/// trusted one and is the real client. Everything to its left was written by that client and is
/// ignored — which is why the left-most entry (what many frameworks use) must never be trusted.
/// If every entry is a trusted proxy, the left-most is as far back as anyone we trust saw.
///
/// An entry we would have to use but cannot read fails closed ([`ClientAddrError`]), so a
/// garbled header can never pass an allow-list.
pub fn client_addr(
    peer: IpAddr,
    forwarded_for: &[&str],
    trusted_proxies: &NetList,
) -> Result<IpAddr, ClientAddrError> {
    let peer = peer.to_canonical();
    if !trusted_proxies.contains(peer) {
        return Ok(peer);
    }
    let mut client = peer;
    for hop in forwarded_for
        .iter()
        .rev()
        .flat_map(|value| value.rsplit(','))
        .map(str::trim)
    {
        client = parse_hop(hop)?;
        if !trusted_proxies.contains(client) {
            return Ok(client);
        }
    }
    Ok(client)
}

/// One `X-Forwarded-For` entry: an address, or an address with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`), which some proxies write.
fn parse_hop(hop: &str) -> Result<IpAddr, ClientAddrError> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
        .map_err(|_| ClientAddrError::Unparsable(hop.chars().take(64).collect()))
}

/// What the replay guard made of a push whose signature passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// The first push seen with this signature.
    First,
    /// This signature with a body already seen with it: an ordinary re-delivery (the journal
    /// de-duplicates it by lead id).
    Redelivery,
    /// This signature with a body not seen with it before: suspicious.
    OtherBody {
        /// Distinct bodies seen with this signature so far, this one included (capped at
        /// [`MAX_BODIES_PER_SIGNATURE`] + 1).
        bodies: usize,
    },
}

/// Signatures remembered per guard (per account) at most. A signature is determined by the token
/// and the second it was made (and the hash algorithm), and only ±300 s of seconds verify, so
/// one account has at most ~1,200 live signatures; the cap only matters if that stops being true.
pub const MAX_SIGNATURES: usize = 4096;

/// Distinct body fingerprints remembered per signature. Genuine pushes made within the same
/// second share a signature (see [`ReplayGuard`]), so more than one is normal at high rates.
pub const MAX_BODIES_PER_SIGNATURE: usize = 16;

/// Remembers, per signature, fingerprints of the bodies it came with, for as long as the
/// signature verifies, and tells a re-delivery from a signature reused with a new body. The
/// caller counts the suspicious ones.
///
/// Keyed on what the signature proves (its digest, lowercased), not on the header's text: the
/// header can be re-encoded without the secret (base64 padding, upper-case hex, an invented
/// nonce in the 4-part form — the digest covers none of that), and each variant would otherwise
/// look like a new signature.
///
/// Bodies are fingerprinted with a keyed hash (SipHash with a random per-process key), so an
/// outsider cannot craft a different body that collides with a genuine one; only 8 bytes per
/// body are kept, never the body.
///
/// A push flagged [`Replay::OtherBody`] is still accepted by the webhook: Tencent's signature
/// depends only on the token and the second, so two genuine leads pushed within one second carry
/// the same signature with different bodies, and refusing the second would lose a real lead.
/// The count is therefore a signal to investigate (and a reason to set `allow_from`), not proof
/// of an attack.
#[derive(Debug)]
pub struct ReplayGuard {
    window_secs: i64,
    max_signatures: usize,
    hasher: RandomState,
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    by_digest: HashMap<Box<str>, Remembered>,
    next_prune: i64,
}

#[derive(Debug)]
struct Remembered {
    /// The last second (unix) at which the signature still verifies.
    expires_at: i64,
    bodies: Vec<u64>,
}

impl ReplayGuard {
    /// A guard for signatures valid `window_secs` on either side of their timestamp.
    pub fn new(window_secs: u64) -> Self {
        Self::with_capacity(window_secs, MAX_SIGNATURES)
    }

    /// [`ReplayGuard::new`] remembering at most `max_signatures` signatures.
    pub fn with_capacity(window_secs: u64, max_signatures: usize) -> Self {
        ReplayGuard {
            window_secs: i64::try_from(window_secs).unwrap_or(i64::MAX),
            max_signatures,
            hasher: RandomState::new(),
            seen: Mutex::new(Seen::default()),
        }
    }

    /// Records a verified push: its signature's `digest`, the signature's timestamp `signed_at`
    /// (unix seconds), and the raw `body`, at `now` (unix seconds).
    pub fn observe(&self, digest: &str, signed_at: i64, body: &[u8], now: i64) -> Replay {
        // Hashed before taking the lock: the lock only guards a map lookup.
        let fingerprint = self.hasher.hash_one(body);
        let key = digest.to_ascii_lowercase();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        // Pruned at most once a second (or when full), so memory holds only signatures
        // that still verify and a push costs no scan.
        if now >= seen.next_prune || seen.by_digest.len() >= self.max_signatures {
            seen.by_digest.retain(|_, r| r.expires_at >= now);
            seen.next_prune = now.saturating_add(1);
        }
        match seen.by_digest.get_mut(key.as_str()) {
            Some(remembered) if remembered.bodies.contains(&fingerprint) => Replay::Redelivery,
            Some(remembered) => {
                if remembered.bodies.len() < MAX_BODIES_PER_SIGNATURE {
                    remembered.bodies.push(fingerprint);
                    Replay::OtherBody {
                        bodies: remembered.bodies.len(),
                    }
                } else {
                    Replay::OtherBody {
                        bodies: MAX_BODIES_PER_SIGNATURE + 1,
                    }
                }
            }
            None => {
                if seen.by_digest.len() < self.max_signatures {
                    seen.by_digest.insert(
                        key.into_boxed_str(),
                        Remembered {
                            expires_at: signed_at.saturating_add(self.window_secs),
                            bodies: vec![fingerprint],
                        },
                    );
                }
                Replay::First
            }
        }
    }

    /// Signatures remembered now (for tests of the memory bound).
    pub fn remembered(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_digest
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn nets(entries: &[&str]) -> NetList {
        NetList::parse(entries).unwrap()
    }

    #[test]
    fn net_lists_take_cidr_blocks_and_plain_addresses() {
        let list = nets(&[
            "1.2.3.0/24",
            "10.0.0.5",
            "::1/128",
            " 2001:db8::/32 ",
            "fe80::1",
        ]);
        assert!(list.contains(ip("1.2.3.200")));
        assert!(!list.contains(ip("1.2.4.1")));
        assert!(list.contains(ip("10.0.0.5")));
        assert!(!list.contains(ip("10.0.0.6")));
        assert!(list.contains(ip("::1")));
        assert!(list.contains(ip("2001:db8:1::7")));
        assert!(list.contains(ip("fe80::1")));
        assert!(!list.contains(ip("fe80::2")));
        // An IPv4 peer on a dual-stack socket.
        assert!(list.contains(ip("::ffff:1.2.3.4")));
        assert!(nets(&["0.0.0.0/0"]).contains(ip("8.8.8.8")));
        assert!(!nets(&["0.0.0.0/0"]).contains(ip("2001:db8::1")));
        assert!(NetList::parse::<&str>(&[]).unwrap().is_empty());
    }

    #[test]
    fn bad_net_entries_say_what_is_wrong() {
        let e = NetList::parse(&["10.0.0.0/8", "1.2.3.0/33"]).unwrap_err();
        assert!(e.starts_with("`1.2.3.0/33`: the prefix length"), "{e}");
        let e = NetList::parse(&["::/129"]).unwrap_err();
        assert!(e.contains("0 to 128 for IPv6"), "{e}");
        let e = NetList::parse(&["10.1.2.3/16"]).unwrap_err();
        assert!(
            e.contains("`10.1.0.0/16` for the network or `10.1.2.3` for the one address"),
            "{e}"
        );
        for bad in [
            "example.com",
            "10.0.0",
            "",
            "10.0.0.0/x",
            "1.2.3.4/24/8",
            "*",
        ] {
            let e = NetList::parse(&[bad]).unwrap_err();
            assert!(e.contains(&format!("`{bad}`")), "{bad}: {e}");
        }
    }

    #[test]
    fn x_forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let trusted = nets(&["127.0.0.1/32", "10.9.0.0/16"]);
        // Not a trusted peer: the header is the sender's own claim and is ignored.
        assert_eq!(
            client_addr(ip("203.0.113.7"), &["10.1.2.3"], &trusted),
            Ok(ip("203.0.113.7"))
        );
        assert_eq!(
            client_addr(ip("127.0.0.1"), &["10.1.2.3"], &NetList::default()),
            Ok(ip("127.0.0.1"))
        );
        // A trusted peer without the header: the peer is the client (e.g. a local health check).
        assert_eq!(
            client_addr(ip("127.0.0.1"), &[], &trusted),
            Ok(ip("127.0.0.1"))
        );
        // Right-most entry that is not a trusted proxy; the client-written left part is ignored.
        assert_eq!(
            client_addr(ip("127.0.0.1"), &["6.6.6.6, 203.0.113.7"], &trusted),
            Ok(ip("203.0.113.7"))
        );
        assert_eq!(
            client_addr(
                ip("127.0.0.1"),
                &["garbage, 203.0.113.7, 10.9.1.1", "10.9.2.2"],
                &trusted
            ),
            Ok(ip("203.0.113.7"))
        );
        // Ports and brackets some proxies add; IPv4-mapped addresses.
        assert_eq!(
            client_addr(ip("::ffff:127.0.0.1"), &["203.0.113.7:5678"], &trusted),
            Ok(ip("203.0.113.7"))
        );
        assert_eq!(
            client_addr(ip("127.0.0.1"), &["[2001:db8::9]:443"], &trusted),
            Ok(ip("2001:db8::9"))
        );
        // Every hop trusted: the left-most.
        assert_eq!(
            client_addr(ip("127.0.0.1"), &["10.9.0.1, 10.9.0.2"], &trusted),
            Ok(ip("10.9.0.1"))
        );
        // An entry we would have to use but cannot read: no answer (the caller refuses).
        assert!(matches!(
            client_addr(ip("127.0.0.1"), &["203.0.113.7, unknown"], &trusted),
            Err(ClientAddrError::Unparsable(e)) if e == "unknown"
        ));
        assert!(client_addr(ip("127.0.0.1"), &[""], &trusted).is_err());
    }

    #[test]
    fn a_signature_with_another_body_is_suspicious_and_a_redelivery_is_not() {
        let guard = ReplayGuard::new(300);
        let now = 1_700_000_000;
        assert_eq!(guard.observe("AbC", now, b"lead 1", now), Replay::First);
        assert_eq!(
            guard.observe("abc", now, b"lead 1", now + 5),
            Replay::Redelivery
        );
        assert_eq!(
            guard.observe("ABC", now, b"lead 2", now + 6),
            Replay::OtherBody { bodies: 2 }
        );
        assert_eq!(
            guard.observe("abc", now, b"lead 2", now + 7),
            Replay::Redelivery
        );
        assert_eq!(guard.observe("def", now, b"lead 2", now + 7), Replay::First);
    }

    #[test]
    fn signatures_are_forgotten_when_they_stop_verifying_and_memory_is_capped() {
        let guard = ReplayGuard::new(300);
        let t = 1_700_000_000;
        guard.observe("a", t, b"x", t);
        guard.observe("b", t + 100, b"x", t + 100);
        assert_eq!(guard.remembered(), 2);
        // `a` verifies until t + 300; one second later it is gone and cannot be replayed anyway.
        guard.observe("c", t + 301, b"x", t + 301);
        assert_eq!(guard.remembered(), 2);
        assert_eq!(guard.observe("a", t, b"y", t + 301), Replay::First);

        let small = ReplayGuard::with_capacity(300, 3);
        for digest in ["1", "2", "3", "4", "5"] {
            small.observe(digest, t, b"x", t);
        }
        assert_eq!(small.remembered(), 3);
        let suspicious = (0..40)
            .filter(|i| {
                matches!(
                    small.observe("1", t, format!("body {i}").as_bytes(), t),
                    Replay::OtherBody { .. }
                )
            })
            .count();
        assert_eq!(
            suspicious, 40,
            "bodies beyond the per-signature cap still count"
        );
    }
}
