//! The command line (INTERFACE.md, "The binary and its commands"):
//! `serve`, `config`, `migrate`, `user …`, `org …`, `import …`, `backup`,
//! `keys …`, `audit list`. Results are
//! JSON on stdout; errors one line on stderr (an import: one per bad row)
//! with a non-zero exit. What `user …` changes goes through the same
//! administration use cases as the admin API and console
//! (`domain::admin`), and is an audit record of contract `cli`.

mod keys;
mod render;

use crate::app::{App, Overrides};
use crate::config::{Config, Contract};
use crate::domain::admin::{Actor, Admin, Paging};
use crate::domain::audit::EventSink;
use crate::domain::clock::{Clock, SystemClock};
use crate::domain::directory::{self, UserInput};
use crate::domain::org::OrgId;
use crate::domain::origin::Origin;
use crate::domain::secret::Secret;
use crate::domain::user::UserId;
use crate::{import, store};
use clap::{Args, Parser, Subcommand};
use std::io::{BufRead, Write};

#[derive(Debug, Parser)]
#[command(
    name = "accountd",
    version,
    about = "One accounts server that speaks five account APIs"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (applies pending migrations first).
    #[command(after_help = crate::config::settings::help())]
    Serve,
    /// Print the effective configuration, one `ACCOUNTD_KEY=value` line per
    /// setting, secrets shown only as set.
    #[command(after_help = crate::config::settings::help())]
    Config,
    /// Read the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Apply schema migrations and exit.
    Migrate,
    /// Create, list, show, update and deactivate users.
    #[command(subcommand)]
    User(UserCommand),
    /// Create organizations and add members.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Bring users, password hashes and live tokens over from Django or Supabase.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Copy a SQLite database, consistently, while the server runs (PostgreSQL: use pg_dump).
    Backup {
        /// The copy to write: a new file, made readable by its owner only.
        path: std::path::PathBuf,
    },
    /// List and rotate the keys tokens are signed with.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Print audit records as JSON lines, newest first.
    List {
        /// Only the records of this user id.
        #[arg(long)]
        user: Option<i64>,
        /// At most this many records.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..=1_000_000))]
        limit: i64,
    },
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// From a Django project's database: its user table and simplejwt's token blacklist.
    Django {
        /// The Django database: sqlite://PATH or postgres://…
        #[arg(long = "from", value_name = "URL")]
        from: String,
        /// The user model's table (a custom user model's works the same).
        #[arg(long, default_value = "auth_user", value_name = "TABLE")]
        user_table: String,
        /// The column holding the phone number (stored as E.164).
        #[arg(long, value_name = "COL")]
        phone_column: Option<String>,
        /// The column holding the role.
        #[arg(long, value_name = "COL")]
        role_column: Option<String>,
        /// Read and check everything and print the summary; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// From Supabase Auth (GoTrue): its users and live sessions.
    Supabase {
        /// Supabase's PostgreSQL database: postgres://…
        #[arg(long = "from", value_name = "URL")]
        from: String,
        /// The schema GoTrue's tables are in.
        #[arg(long, default_value = "auth")]
        schema: String,
        /// Read and check everything and print the summary; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user and print it.
    Create(UserFlags),
    /// Print every user as a JSON array.
    List,
    /// Print the users whose username, phone or email contains TEXT (any case), as a JSON array.
    Find { text: String },
    /// Print one user.
    Show { id: i64 },
    /// Change the given fields of a user and print it.
    Update {
        id: i64,
        #[command(flatten)]
        flags: UserFlags,
    },
    /// Deactivate a user (its logins and tokens stop working) and print it.
    Deactivate { id: i64 },
    /// End every refresh token, session and access token issued to the user until now.
    Logout { id: i64 },
    /// Clear the user's failed-login throttle.
    Unlock { id: i64 },
    /// Delete the user and everything of theirs (tokens, sessions, memberships).
    Delete { id: i64 },
    /// Print the user's live sessions and refresh tokens as a JSON array.
    Sessions { id: i64 },
}

#[derive(Debug, Args)]
struct UserFlags {
    #[arg(long)]
    username: Option<String>,
    /// E.164, e.g. +255712345678.
    #[arg(long)]
    phone: Option<String>,
    #[arg(long)]
    email: Option<String>,
    /// Visible to other local users in the process list; prefer --password-stdin.
    #[arg(long, conflicts_with = "password_stdin")]
    password: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
    #[arg(long)]
    first_name: Option<String>,
    #[arg(long)]
    last_name: Option<String>,
    #[arg(long)]
    role: Option<String>,
    /// Require an SMS code after the password (pixel_genius); `--otp-enabled=false` turns it off.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    otp_enabled: Option<bool>,
    /// Create or set the user inactive; `--inactive=false` activates it again.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    inactive: Option<bool>,
    /// Further attributes as a JSON object (replaces the stored profile).
    #[arg(long)]
    profile: Option<String>,
    /// May sign in to the admin console; `--staff=false` takes that away.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    staff: Option<bool>,
}

#[derive(Debug, Subcommand)]
enum OrgCommand {
    /// Create an organization and print it.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        verified: bool,
    },
    /// Add a user to an organization.
    AddMember {
        #[arg(long)]
        org: i64,
        #[arg(long)]
        user: i64,
    },
}

impl UserFlags {
    fn into_input(self) -> Result<UserInput, String> {
        let password = if self.password_stdin {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
            let p = line.trim_end_matches(['\n', '\r']).to_owned();
            if p.is_empty() {
                return Err("--password-stdin: no password on standard input".into());
            }
            Some(Secret::new(p))
        } else {
            self.password.map(Secret::new)
        };
        Ok(UserInput {
            username: self.username,
            phone: self.phone,
            email: self.email,
            password,
            first_name: self.first_name,
            last_name: self.last_name,
            role: self.role,
            otp_enabled: self.otp_enabled,
            is_active: self.inactive.map(|inactive| !inactive),
            profile: self.profile,
            is_staff: self.staff,
        })
    }
}

fn print(value: serde_json::Value) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{value}").map_err(|e| e.to_string())
}

/// The next delivery of `signal`; never, if its handler could not be installed.
#[cfg(unix)]
async fn next_signal(signal: &mut Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// Ctrl-C or SIGTERM, as a future. The handlers are installed when this is
/// called, not when the future is first polled: a SIGTERM that comes right
/// after the `listening on` line must stop the server gracefully, not kill
/// it with the default action (the tests saw that under load).
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    #[cfg(unix)]
    let mut interrupt =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    async move {
        #[cfg(unix)]
        tokio::select! {
            _ = next_signal(&mut term) => {},
            _ = next_signal(&mut interrupt) => {},
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Run one command to completion.
pub async fn run(cli: Cli) -> Result<(), String> {
    let config = Config::from_env()?;
    match cli.command {
        Command::Serve => {
            let app = App::build(config, Overrides::default()).await?;
            // Before the listening lines: whoever reads them may signal at once.
            let stop = shutdown_signal();
            let addr = app.local_addr().map_err(|e| e.to_string())?;
            println!("listening on http://{addr}");
            if let Some(admin) = app.admin_addr() {
                println!("admin listening on http://{admin}");
            }
            tracing::info!(%addr, contracts = ?app.state().config.contracts, "serving");
            app.run(stop).await.map_err(|e| e.to_string())?;
            tracing::info!("stopped");
            Ok(())
        }
        Command::Config => {
            let mut out = std::io::stdout().lock();
            for (key, value) in config.effective() {
                writeln!(out, "{key}={value}").map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        Command::Audit(AuditCommand::List { user, limit }) => {
            let store = store::open(&config.database_url)
                .await
                .map_err(|e| e.to_string())?;
            let filter = crate::domain::audit::AuditFilter {
                user: user.map(UserId),
                limit,
                ..Default::default()
            };
            let records = store.audit(&filter).await.map_err(|e| e.to_string());
            store.close().await;
            let mut out = std::io::stdout().lock();
            for r in records? {
                writeln!(out, "{}", crate::admin::json::audit(&r)).map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        Command::Migrate => {
            store::open(&config.database_url)
                .await
                .map_err(|e| e.to_string())?;
            println!("migrations applied");
            Ok(())
        }
        Command::User(cmd) => {
            let store = store::open(&config.database_url)
                .await
                .map_err(|e| e.to_string())?;
            let key = crate::app::otp_key(store.as_ref()).await?;
            // Every change is an audit record, written before the command ends.
            let events = store::AuditWriter::start(store.clone());
            let admin = Admin {
                store: store.as_ref(),
                events: events.as_ref(),
                key: &key,
                dialable: config.phone_strict,
                now: SystemClock.now(),
                actor: Actor::cli(),
            };
            let done = user_command(&admin, cmd).await;
            events.flush().await;
            print(done.map_err(render::error)?)
        }
        Command::Backup { path } => {
            let done = store::backup(&config.database_url, &path).await?;
            print(serde_json::json!({
                "backup": done.path.display().to_string(),
                "bytes": done.bytes,
                "users": done.users,
            }))
        }
        Command::Import(cmd) => {
            let store = store::open(&config.database_url)
                .await
                .map_err(|e| e.to_string())?;
            let now = SystemClock.now();
            let done = match cmd {
                ImportCommand::Django {
                    from,
                    user_table,
                    phone_column,
                    role_column,
                    dry_run,
                } => {
                    let options = import::django::Options {
                        from,
                        user_table,
                        phone_column,
                        role_column,
                        dry_run,
                    };
                    import::django::run(store.as_ref(), &options, now, &Origin::cli())
                        .await
                        .map(|s| render::django_summary(&s))
                }
                ImportCommand::Supabase {
                    from,
                    schema,
                    dry_run,
                } => {
                    let options = import::supabase::Options {
                        from,
                        schema,
                        dry_run,
                        session_seconds: config.ttl(Contract::Delivery).refresh,
                    };
                    import::supabase::run(store.as_ref(), &options, now, &Origin::cli())
                        .await
                        .map(|s| render::supabase_summary(&s))
                }
            };
            store.close().await;
            match done {
                Ok(summary) => print(summary),
                Err(failure) => Err(render::import_failure(failure)),
            }
        }
        Command::Keys(cmd) => print(keys::run(&config, cmd).await?),
        Command::Org(cmd) => {
            let store = store::open(&config.database_url)
                .await
                .map_err(|e| e.to_string())?;
            let store = store.as_ref();
            match cmd {
                OrgCommand::Create {
                    name,
                    kind,
                    verified,
                } => {
                    let org = directory::create_org(store, &name, kind, verified)
                        .await
                        .map_err(render::error)?;
                    print(render::org(&org))
                }
                OrgCommand::AddMember { org, user } => {
                    directory::add_member(store, OrgId(org), UserId(user))
                        .await
                        .map_err(render::error)?;
                    print(serde_json::json!({"org_id": org, "user_id": user}))
                }
            }
        }
    }
}

/// One `user …` command, as the JSON it prints.
async fn user_command(
    admin: &Admin<'_>,
    cmd: UserCommand,
) -> Result<serde_json::Value, crate::domain::Error> {
    use serde_json::{json, Value};
    let users =
        |all: &[crate::domain::user::User]| Value::Array(all.iter().map(render::user).collect());
    Ok(match cmd {
        UserCommand::Create(flags) => {
            let input = flags.into_input().map_err(crate::domain::Error::Invalid)?;
            render::user(&admin.create_user(input).await?)
        }
        UserCommand::Update { id, flags } => {
            let input = flags.into_input().map_err(crate::domain::Error::Invalid)?;
            render::user(&admin.update_user(UserId(id), input).await?)
        }
        UserCommand::Logout { id } => render::user(&admin.logout_user(UserId(id)).await?),
        UserCommand::Unlock { id } => {
            let cleared = admin.unlock_user(UserId(id)).await?;
            json!({"id": id, "cleared_attempts": cleared})
        }
        UserCommand::Deactivate { id } => render::user(&admin.deactivate(UserId(id)).await?),
        UserCommand::Delete { id } => {
            admin.delete_user(UserId(id)).await?;
            json!({"id": id, "deleted": true})
        }
        UserCommand::Sessions { id } => Value::Array(
            admin
                .sessions(UserId(id))
                .await?
                .iter()
                .map(crate::admin::json::session)
                .collect(),
        ),
        UserCommand::Show { id } => render::user(&admin.user(UserId(id)).await?),
        UserCommand::List => users(&admin.store.list_users().await?),
        UserCommand::Find { text } => {
            users(&admin.find_users(&text, Paging::everything()).await?.users)
        }
    })
}
