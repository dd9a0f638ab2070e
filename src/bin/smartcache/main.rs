//! `smartcache`: look into, verify and clean the caches smartcache keeps on disk.
//!
//! Install with `cargo install smartcache --features cli`. Every command works on the
//! storage root a cache uses by default (`$SMARTCACHE_DIR`, else the platform cache
//! folder) or on `--dir`. Exit codes: 0 when all is well, 1 when problems were found
//! (damaged entries, an entry that is not there, one that could not be removed), 2 for a
//! usage or I/O error, with a message saying what to do. What the library logs (warnings
//! by default, `$SMARTCACHE_LOG` to choose) goes to standard error. `--json` output is
//! documented in the guide's CLI chapter and stays stable: fields are added, never
//! renamed or removed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;
mod human;
mod progress;

/// Look into, verify and clean the caches smartcache keeps on disk.
#[derive(Parser)]
#[command(name = "smartcache", version, about, long_about = None)]
struct Cli {
    /// The storage root (default: $SMARTCACHE_DIR, else the platform cache folder).
    #[arg(long, global = true, value_name = "DIR")]
    dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the storage root in use.
    Dir {
        /// Print where it comes from too, as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Entries, bytes and ages per namespace and tier.
    Stats {
        /// Only this namespace.
        #[arg(long, short)]
        namespace: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List entries: key, types, version, tier, size, age, expiry.
    Ls {
        /// Only this namespace.
        #[arg(long, short)]
        namespace: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one entry's header and whether its checksums are valid.
    Inspect {
        /// The key as `ls` shows it (`42`, `"name"`), or its encoding in hex (`0x…`).
        key: String,
        /// The namespace of the entry.
        #[arg(long, short)]
        namespace: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Read every entry and check it; exit 1 if any is damaged.
    Verify {
        /// Only this namespace.
        #[arg(long, short)]
        namespace: Option<String>,
        /// Remove the damaged entries.
        #[arg(long)]
        fix: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove expired, damaged, stale-version and crash-leftover data, then entries not
    /// used for a while, then the oldest until the caches fit a size.
    Gc {
        /// Only this namespace.
        #[arg(long, short)]
        namespace: Option<String>,
        /// Also remove entries not read or written for this long (`7d`, `12h`).
        #[arg(long, value_name = "AGE", value_parser = human::parse_duration)]
        older_than: Option<std::time::Duration>,
        /// Then remove the least recently used entries until all fit in this (`10G`).
        #[arg(long, value_name = "SIZE", value_parser = human::parse_size)]
        max_size: Option<u64>,
        /// Say what would go; remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete every entry (asks first on a terminal).
    Clear {
        /// Only this namespace.
        #[arg(long, short)]
        namespace: Option<String>,
        /// Do not ask (needed when not on a terminal).
        #[arg(long, short)]
        yes: bool,
    },
}

/// Sends what the library logs to standard error: warnings and errors (an entry that
/// could not be removed, and why), or what `$SMARTCACHE_LOG` asks for (`debug`,
/// `smartcache=trace`: `tracing-subscriber`'s filter syntax). Standard output, `--json`
/// included, stays as documented.
fn log_to_stderr() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::builder()
        .with_default_directive(tracing_subscriber::filter::LevelFilter::WARN.into())
        .with_env_var("SMARTCACHE_LOG")
        .from_env_lossy();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .with_target(false)
        .init();
}

/// Why a command failed: problems found (exit 1), or it could not run (exit 2).
pub enum Failure {
    /// The command ran and found problems (exit 1).
    Problems,
    /// The command could not run: the message says why and what to do (exit 2).
    Error(String),
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure::Error(error.to_string())
    }
}

fn main() -> ExitCode {
    // Output piped into `head` ends quietly when the pipe closes, as for other commands,
    // instead of a panic at the next line printed.
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default, before any other thread
    // exists, races with nothing.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    log_to_stderr();
    let result = commands::run(cli.dir, cli.command);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Problems) => ExitCode::from(1),
        Err(Failure::Error(message)) => {
            eprintln!("smartcache: {message}");
            ExitCode::from(2)
        }
    }
}
