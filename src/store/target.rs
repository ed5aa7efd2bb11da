//! Which journal `[daemon] journal` names: a SQLite file (the default) or a PostgreSQL URL.
//! The URL's password is kept out of every message: [`PgUrl`] shows itself without it.

use std::fmt;
use std::path::PathBuf;

/// A journal location.
#[derive(Clone, PartialEq, Eq)]
pub enum JournalTarget {
    /// A SQLite file (created if missing).
    Sqlite(PathBuf),
    /// A PostgreSQL database shared by every node.
    Postgres(PgUrl),
}

impl JournalTarget {
    /// Reads `[daemon] journal` (after `${VAR}` expansion): `postgres://…` or `postgresql://…`
    /// is PostgreSQL, anything else a file path.
    pub fn parse(text: &str) -> Result<JournalTarget, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("journal: empty; give a file path or a postgres:// URL".to_string());
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return PgUrl::parse(text).map(JournalTarget::Postgres);
        }
        if text.contains("://") {
            return Err(format!(
                "journal: `{}` is a URL leadrelay does not know; use a file path or postgres://",
                text.split("://").next().unwrap_or_default()
            ));
        }
        Ok(JournalTarget::Sqlite(PathBuf::from(text)))
    }

    /// The SQLite file, if this is one.
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        match self {
            JournalTarget::Sqlite(path) => Some(path),
            JournalTarget::Postgres(_) => None,
        }
    }
}

impl<'de> serde::Deserialize<'de> for JournalTarget {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        JournalTarget::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for JournalTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalTarget::Sqlite(path) => write!(f, "{}", path.display()),
            JournalTarget::Postgres(url) => write!(f, "{url}"),
        }
    }
}

impl fmt::Debug for JournalTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JournalTarget({self})")
    }
}

/// A PostgreSQL connection URL. `Display` and `Debug` drop the password; [`PgUrl::expose`]
/// gives the whole URL to the driver and nothing else.
#[derive(Clone, PartialEq, Eq)]
pub struct PgUrl {
    full: String,
    shown: String,
}

impl PgUrl {
    /// Checks the URL's shape (`postgres://[user[:password]@]host[:port]/database[?…]`).
    pub fn parse(text: &str) -> Result<PgUrl, String> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| "journal: a PostgreSQL URL starts with postgres://".to_string())?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((userinfo, host)) => (Some(userinfo), host),
            None => (None, authority),
        };
        let database = path.split('?').next().unwrap_or_default();
        if host.is_empty() && !path.contains("host=") {
            return Err(format!(
                "journal: {scheme}:// URL names no host (postgres://user@host:5432/leadrelay)"
            ));
        }
        if database.is_empty() {
            return Err(format!(
                "journal: {scheme}:// URL names no database (postgres://user@host:5432/leadrelay)"
            ));
        }
        let shown_userinfo = match userinfo {
            Some(info) => match info.split_once(':') {
                Some((user, _password)) => format!("{user}:***@"),
                None => format!("{info}@"),
            },
            None => String::new(),
        };
        let shown_path = redact_query_password(path);
        Ok(PgUrl {
            full: text.to_string(),
            shown: format!("{scheme}://{shown_userinfo}{host}/{shown_path}"),
        })
    }

    /// The whole URL, password included: only for the driver.
    pub fn expose(&self) -> &str {
        &self.full
    }
}

/// `?password=…` in the query string is a password too.
fn redact_query_password(path: &str) -> String {
    let Some((base, query)) = path.split_once('?') else {
        return path.to_string();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

impl fmt::Display for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgUrl({})", self.shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_sqlite_and_a_postgres_url_is_postgres() {
        assert_eq!(
            JournalTarget::parse("leadrelay.db").unwrap(),
            JournalTarget::Sqlite("leadrelay.db".into())
        );
        let target =
            JournalTarget::parse("postgres://relay:s3cret@db.internal:5432/leadrelay").unwrap();
        let JournalTarget::Postgres(url) = &target else {
            panic!("{target:?}");
        };
        assert_eq!(
            url.expose(),
            "postgres://relay:s3cret@db.internal:5432/leadrelay"
        );
        assert!(JournalTarget::parse("postgresql://db/leadrelay").is_ok());
    }

    #[test]
    fn the_password_never_shows() {
        for text in [
            "postgres://relay:s3cret@db:5432/leadrelay",
            "postgres://relay@db/leadrelay?password=s3cret&sslmode=require",
        ] {
            let target = JournalTarget::parse(text).unwrap();
            for shown in [target.to_string(), format!("{target:?}")] {
                assert!(!shown.contains("s3cret"), "{shown}");
                assert!(
                    shown.contains("relay") && shown.contains("leadrelay"),
                    "{shown}"
                );
            }
        }
    }

    #[test]
    fn bad_urls_say_what_is_missing() {
        let err = JournalTarget::parse("postgres://db:5432").unwrap_err();
        assert!(err.contains("no database"), "{err}");
        let err = JournalTarget::parse("mysql://db/x").unwrap_err();
        assert!(err.contains("mysql"), "{err}");
        assert!(JournalTarget::parse("  ").is_err());
    }
}
