//! TEMPORARY (replaced by the throwaway-server harness): a fresh database on the server named
//! by LEADRELAY_TEST_PG_ADMIN.
pub struct Db {
    pub url: String,
}
static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
pub async fn database() -> Option<Db> {
    let admin = std::env::var("LEADRELAY_TEST_PG_ADMIN").ok()?;
    let name = format!(
        "t{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let (client, conn) =
        tokio_postgres::connect(&format!("{admin}/postgres"), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    Some(Db {
        url: format!("{admin}/{name}"),
    })
}

/// TEMPORARY: the dev server in /tmp/pgdev, stopped and started with pg_ctl.
pub async fn private_database() -> Option<(String, impl FnOnce(), impl FnOnce())> {
    let db = database().await?;
    let ctl = |action: &'static str| {
        move || {
            let status = std::process::Command::new("runuser")
                .args([
                    "-u",
                    "postgres",
                    "--",
                    "/usr/lib/postgresql/15/bin/pg_ctl",
                    "-D",
                    "/tmp/pgdev/data",
                    "-m",
                    "immediate",
                    "-w",
                    "-o",
                    "-c listen_addresses=127.0.0.1 -p 55432 -k /tmp/pgdev -c fsync=off",
                    "-l",
                    "/tmp/pgdev/log",
                    action,
                ])
                .status()
                .unwrap();
            assert!(status.success());
        }
    };
    Some((db.url, ctl("stop"), ctl("start")))
}
