//! `bench-server`: the command line of the Doctor's Bench clinic API.
//! See the library's crate documentation for what each command does.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use bench_server::commands::{self, UserAdd};
use bench_server::config;
use bench_server::files::DataDir;
use bench_server::ServerError;
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "bench-server",
    version,
    about = "The Doctor's Bench clinic API server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct DataDirArg {
    /// Where the server keeps its databases, keys and certificates.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

impl DataDirArg {
    fn resolve(&self) -> Result<DataDir, ServerError> {
        let path = match &self.data_dir {
            Some(p) => p.clone(),
            None => config::default_data_dir()?,
        };
        Ok(DataDir::new(&path))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API over HTTPS (TLS 1.3 only).
    Serve {
        #[command(flatten)]
        dir: DataDirArg,
        /// Address to listen on, e.g. 127.0.0.1:8443 (port 0 picks a free one).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Create a data directory with a demo practitioner and a local CA.
    Init {
        /// Create the demo clinic and account (the only kind of set-up so far).
        #[arg(long, required = true)]
        demo: bool,
        #[command(flatten)]
        dir: DataDirArg,
        /// Address the server will listen on.
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Check or export the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Security alerts (for operations).
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// Devices that signed in; revoke a lost or stolen one.
    #[command(subcommand)]
    Device(DeviceCommand),
}

#[derive(Subcommand)]
enum DeviceCommand {
    /// List devices, newest contact first (the listing is audited).
    List {
        #[command(flatten)]
        dir: DataDirArg,
        /// Only this account's devices.
        #[arg(long)]
        username: Option<String>,
    },
    /// Revoke a device for every account on it: its sessions stop working,
    /// it cannot sign in again, and the app on it deletes its vault at its
    /// next contact (audited).
    Revoke {
        #[command(flatten)]
        dir: DataDirArg,
        /// As `device list` prints it.
        #[arg(long)]
        device_id: String,
        /// Why, in a few words (e.g. "laptop stolen"); never a client's name.
        #[arg(long, default_value = "")]
        reason: String,
    },
}

#[derive(Subcommand)]
enum AlertsCommand {
    /// List every alert, oldest first (the listing is audited).
    List {
        #[command(flatten)]
        dir: DataDirArg,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add an account; the password is read from standard input.
    Add {
        #[command(flatten)]
        dir: DataDirArg,
        #[arg(long)]
        username: String,
        #[arg(long)]
        display_name: String,
        /// solo_practitioner, clinic_practitioner, supervisor, clinic_admin or operations.
        #[arg(long)]
        role: String,
        /// Read the password from standard input (the only way to give it).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Set up 2FA now and print the secret once.
        #[arg(long)]
        with_totp: bool,
    },
    /// Set a new password; read from standard input.
    Passwd {
        #[command(flatten)]
        dir: DataDirArg,
        #[arg(long)]
        username: String,
        /// Read the password from standard input (the only way to give it).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Clear an account's failed-sign-in lock on every network (audited).
    Unlock {
        #[command(flatten)]
        dir: DataDirArg,
        #[arg(long)]
        username: String,
    },
    /// End every session and pending sign-in of an account (audited).
    SessionsRevoke {
        #[command(flatten)]
        dir: DataDirArg,
        #[arg(long)]
        username: String,
    },
    /// Remove an account's 2FA so it enrols again at its next sign-in, and
    /// end its sessions (audited).
    #[command(name = "reset-2fa")]
    Reset2fa {
        #[command(flatten)]
        dir: DataDirArg,
        #[arg(long)]
        username: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the hash chain, check the signed checkpoints, and name the
    /// first entry that fails.
    Verify {
        #[command(flatten)]
        dir: DataDirArg,
    },
    /// For a data directory from before `audit-head.json`: verify the log,
    /// then keep its signed head outside it too.
    Anchor {
        #[command(flatten)]
        dir: DataDirArg,
    },
    /// Write entries FROM..=TO as JSON lines with their hashes, for an auditor.
    Export {
        #[command(flatten)]
        dir: DataDirArg,
        #[arg(long, value_name = "SEQ")]
        from: i64,
        #[arg(long, value_name = "SEQ")]
        to: i64,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Re-verify an export file on its own (no data directory needed).
    VerifyExport {
        #[arg(long = "in", value_name = "FILE")]
        file: PathBuf,
        /// The checkpoint key (hex) to trust, as `audit export` printed it.
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), ServerError> {
    match command {
        Command::Serve { dir, listen } => serve(dir, listen),
        Command::Init {
            demo: _,
            dir,
            listen,
        } => {
            let listen = listen.as_deref().map(config::parse_listen).transpose()?;
            commands::init_demo(&dir.resolve()?, listen)
        }
        Command::User(UserCommand::Add {
            dir,
            username,
            display_name,
            role,
            password_stdin: _,
            with_totp,
        }) => commands::user_add(
            &dir.resolve()?,
            UserAdd {
                username: &username,
                display_name: &display_name,
                role: &role,
                with_totp,
            },
        ),
        Command::User(UserCommand::Passwd {
            dir,
            username,
            password_stdin: _,
        }) => commands::user_passwd(&dir.resolve()?, &username),
        Command::User(UserCommand::Unlock { dir, username }) => {
            commands::user_unlock(&dir.resolve()?, &username)
        }
        Command::User(UserCommand::SessionsRevoke { dir, username }) => {
            commands::user_sessions_revoke(&dir.resolve()?, &username)
        }
        Command::User(UserCommand::Reset2fa { dir, username }) => {
            commands::user_reset_2fa(&dir.resolve()?, &username)
        }
        Command::Audit(AuditCommand::Verify { dir }) => commands::audit_verify(&dir.resolve()?),
        Command::Audit(AuditCommand::Anchor { dir }) => commands::audit_anchor(&dir.resolve()?),
        Command::Audit(AuditCommand::Export { dir, from, to, out }) => {
            commands::audit_export(&dir.resolve()?, from, to, &out)
        }
        Command::Audit(AuditCommand::VerifyExport { file, public_key }) => {
            commands::audit_verify_export(&file, public_key.as_deref())
        }
        Command::Alerts(AlertsCommand::List { dir }) => commands::alerts_list(&dir.resolve()?),
        Command::Device(DeviceCommand::List { dir, username }) => {
            commands::device_list(&dir.resolve()?, username.as_deref())
        }
        Command::Device(DeviceCommand::Revoke {
            dir,
            device_id,
            reason,
        }) => commands::device_revoke(&dir.resolve()?, &device_id, &reason),
    }
}

/// Starts the async runtime only for the command that needs it.
fn serve(dir: DataDirArg, listen: Option<String>) -> Result<(), ServerError> {
    let listen = listen.as_deref().map(config::parse_listen).transpose()?;
    let dir = dir.resolve()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| ServerError::Serve { source })?;
    runtime.block_on(commands::serve(&dir, listen))
}
