//! A real PostgreSQL for tests: `initdb` and `pg_ctl` from Debian's `postgresql` package, in a
//! temporary directory, listening on 127.0.0.1 on an ephemeral port, stopped on drop. As root
//! (CI), the server runs as the `postgres` user, which owns the directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A running PostgreSQL cluster of its own.
pub(crate) struct Postgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres_user: bool,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    listener.local_addr().expect("address").port()
}

impl Postgres {
    /// Starts a fresh cluster, or `None` (test skipped) when PostgreSQL is not installed and
    /// components are not required.
    pub(crate) fn start() -> Option<Self> {
        let initdb = super::component_from("initdb", "postgresql")?;
        let bin = initdb.parent().expect("bin directory").to_path_buf();
        let dir = tempfile::tempdir().expect("temp dir");
        let as_postgres_user = is_root();
        if as_postgres_user {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown runs");
            assert!(status.success(), "chown the cluster directory to postgres");
        }
        let pg = Self {
            bin,
            dir,
            port: free_port(),
            as_postgres_user,
        };
        let data = pg.data();
        let out = pg
            .command("initdb")
            .args([
                "-D",
                &data,
                "-U",
                "keygate",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ])
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg.ctl_start();
        Some(pg)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut cmd = if self.as_postgres_user {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        };
        cmd.current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn ctl_start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log").display().to_string();
        let out = self
            .command("pg_ctl")
            .args([
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "-t",
                "30",
                "start",
            ])
            .output()
            .expect("pg_ctl runs");
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// `postgres://keygate@127.0.0.1:<port>/postgres`.
    pub(crate) fn url(&self) -> String {
        format!("postgres://keygate@127.0.0.1:{}/postgres", self.port)
    }

    /// Kills the server at once (`pg_ctl stop -m immediate`: no clean shutdown).
    pub(crate) fn kill(&self) {
        let _ = self
            .command("pg_ctl")
            .args(["-D", &self.data(), "-m", "immediate", "-w", "stop"])
            .output();
    }

    /// Starts it again on the same port, with the same data.
    pub(crate) fn restart(&self) {
        self.ctl_start();
    }

    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.kill();
    }
}
