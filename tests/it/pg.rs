//! A private throwaway PostgreSQL server for the tests: one per test process, started on first
//! use (initdb in a temp dir, as the `postgres` user when the tests run as root, on a free
//! loopback port, trust auth), one fresh database per test. A detached watchdog stops the server
//! and removes its directory once the test process has exited (statics never drop).
//! [`private_database`] starts a server of its own for a test that stops and starts it.
//!
//! Without PostgreSQL's server binaries the PostgreSQL tests return early after one line on
//! stderr saying so, unless `LEADRELAY_REQUIRE_PG=1` (set by `.ci/run`), which fails them.
//! `LEADRELAY_PG_BINDIR` names the binaries' directory when they are elsewhere.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// A fresh database on the test server.
pub struct Db {
    /// `postgres://postgres@127.0.0.1:PORT/NAME`.
    pub url: String,
}

/// The test process's server.
pub struct Server {
    bindir: PathBuf,
    dir: PathBuf,
    port: u16,
    /// As root, the commands run as `postgres` (initdb and postgres refuse root).
    as_postgres: bool,
    lock: Mutex<()>,
}

static SERVER: OnceLock<Option<Server>> = OnceLock::new();
static NEXT: AtomicU32 = AtomicU32::new(0);
static SERVERS: AtomicU32 = AtomicU32::new(0);

/// A fresh, empty database on this process's server; `None` (after one line on stderr) when
/// PostgreSQL is not installed and `LEADRELAY_REQUIRE_PG` is not set.
pub async fn database() -> Option<Db> {
    Some(server()?.create_database().await)
}

impl Server {
    async fn create_database(&self) -> Db {
        let server = self;
        let name = format!(
            "t{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let (client, conn) = tokio_postgres::connect(
            &format!("{}/postgres", server.base_url()),
            tokio_postgres::NoTls,
        )
        .await
        .expect("connect to the test server");
        let conn = tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create a test database");
        drop(client);
        let _ = conn.await;
        Db {
            url: format!("{}/{name}", server.base_url()),
        }
    }
}

/// A database on a server of its own, with the means to stop and start that server (the
/// outage tests): stopping it leaves every other test's server alone. `None` as [`database`].
pub async fn private_database() -> Option<(String, impl FnOnce(), impl FnOnce())> {
    let bindir = server()?.bindir.clone();
    let server: &'static Server = Box::leak(Box::new(
        tokio::task::spawn_blocking(move || Server::init(bindir))
            .await
            .unwrap(),
    ));
    let db = server.create_database().await;
    Some((db.url, move || server.stop(), move || server.start()))
}

/// This process's server, started on first use; `None` when PostgreSQL is not installed (and
/// not required).
pub fn server() -> Option<&'static Server> {
    SERVER
        .get_or_init(|| {
            let required = std::env::var("LEADRELAY_REQUIRE_PG").is_ok_and(|v| v == "1");
            match bindir() {
                Some(bindir) => Some(Server::init(bindir)),
                None if required => panic!(
                    "LEADRELAY_REQUIRE_PG=1 but no PostgreSQL server binaries (initdb) were found: \
                     install the postgresql package or set LEADRELAY_PG_BINDIR"
                ),
                None => {
                    // Written to stderr directly: the test harness captures eprintln!.
                    let _ = writeln!(
                        std::io::stderr(),
                        "PostgreSQL suite skipped: no initdb found (install the postgresql \
                         package, or set LEADRELAY_PG_BINDIR); .ci/run always runs it"
                    );
                    None
                }
            }
        })
        .as_ref()
}

/// Where initdb, pg_ctl and postgres are: `LEADRELAY_PG_BINDIR`, `pg_config --bindir`, the
/// newest `/usr/lib/postgresql/*/bin`, then `PATH`.
fn bindir() -> Option<PathBuf> {
    let has_initdb = |d: &Path| d.join("initdb").is_file();
    if let Some(dir) = std::env::var_os("LEADRELAY_PG_BINDIR") {
        return Some(PathBuf::from(dir)).filter(|d| has_initdb(d));
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_initdb(&dir) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, d)| has_initdb(d))
        .collect();
    versions.sort();
    if let Some((_, dir)) = versions.pop() {
        return Some(dir);
    }
    std::env::split_paths(&std::env::var_os("PATH")?).find(|d| has_initdb(d))
}

impl Server {
    fn init(bindir: PathBuf) -> Server {
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let dir = std::env::temp_dir().join(format!(
            "leadrelay-pg-{}-{}",
            std::process::id(),
            SERVERS.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the server's directory");
        if as_postgres {
            run(Command::new("chown").arg("postgres:").arg(&dir));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let server = Server {
            bindir,
            dir,
            port,
            as_postgres,
            lock: Mutex::new(()),
        };
        run(server.command("initdb").arg("-D").arg(server.data()).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
        ]));
        server.watchdog();
        server.start();
        server
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// `postgres://postgres@127.0.0.1:PORT` (add `/dbname`).
    pub fn base_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    /// A server binary, run as `postgres` when we are root.
    fn command(&self, program: &str) -> Command {
        let program = self.bindir.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        command.current_dir(&self.dir).stdin(Stdio::null());
        command
    }

    /// Starts the server (again) on the same port and data directory; returns once it
    /// accepts connections.
    pub fn start(&self) {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        // fsync, synchronous_commit and full_page_writes off: a test server's data is thrown
        // away, and durability costs the shared test machine seconds per test.
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=400",
            self.port,
            self.dir.display()
        );
        run(self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(["-o", &options, "-w", "-t", "60", "start"]));
    }

    /// Stops the server at once (as a crash or an outage would); connections are cut.
    pub fn stop(&self) {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        run(self.command("pg_ctl").arg("-D").arg(self.data()).args([
            "-m",
            "immediate",
            "-w",
            "-t",
            "60",
            "stop",
        ]));
    }

    /// Stops and starts the server.
    #[allow(dead_code)]
    pub fn restart(&self) {
        self.stop();
        self.start();
    }

    /// A detached shell that waits while this process lives, then stops the server and removes
    /// its directory.
    // Never waited for: it outlives this process on purpose.
    #[allow(clippy::zombie_processes)]
    fn watchdog(&self) {
        let pg_ctl = self.bindir.join("pg_ctl");
        let stop = if self.as_postgres {
            format!("runuser -u postgres -- '{}'", pg_ctl.display())
        } else {
            format!("'{}'", pg_ctl.display())
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             {stop} -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            data = self.data().display(),
            dir = self.dir.display(),
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server's watchdog");
    }
}

/// Runs `command` to its end; panics with its output when it fails.
fn run(command: &mut Command) {
    let out = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
