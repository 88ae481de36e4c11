//! The command line (INTERFACE.md, "The binary and its commands"):
//! `serve`, `migrate`, `user …`, `org …`, `import …`. Results are JSON on
//! stdout; errors one line on stderr (an import: one per bad row) with a
//! non-zero exit.

mod keys;
mod render;

use crate::app::{App, Overrides};
use crate::config::{Config, Contract};
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
    Serve,
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
    /// List and rotate the keys tokens are signed with.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
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
        })
    }
}

fn print(value: serde_json::Value) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{value}").map_err(|e| e.to_string())
}

/// Wait for Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Run one command to completion.
pub async fn run(cli: Cli) -> Result<(), String> {
    let config = Config::from_env()?;
    match cli.command {
        Command::Serve => {
            let app = App::build(config, Overrides::default()).await?;
            let addr = app.local_addr().map_err(|e| e.to_string())?;
            println!("listening on http://{addr}");
            if let Some(admin) = app.admin_addr() {
                println!("admin listening on http://{admin}");
            }
            tracing::info!(%addr, contracts = ?app.state().config.contracts, "serving");
            app.run(shutdown_signal())
                .await
                .map_err(|e| e.to_string())?;
            tracing::info!("stopped");
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
            let store = store.as_ref();
            let strict = config.phone_strict;
            let user = match cmd {
                UserCommand::Create(flags) => {
                    directory::create_user(store, flags.into_input()?, SystemClock.now(), strict)
                        .await
                }
                UserCommand::Update { id, flags } => {
                    let input = flags.into_input()?;
                    directory::update_user(store, UserId(id), input, SystemClock.now(), strict)
                        .await
                }
                UserCommand::Logout { id } => {
                    directory::logout_user(store, UserId(id), SystemClock.now()).await
                }
                UserCommand::Unlock { id } => {
                    let key = crate::app::otp_key(store).await?;
                    let cleared = directory::unlock_user(store, &key, UserId(id))
                        .await
                        .map_err(render::error)?;
                    return print(serde_json::json!({"id": id, "cleared_attempts": cleared}));
                }
                UserCommand::Deactivate { id } => {
                    directory::deactivate_user(store, UserId(id)).await
                }
                UserCommand::Show { id } => store
                    .user_by_id(UserId(id))
                    .await
                    .and_then(|u| u.ok_or(crate::domain::Error::NotFound("user"))),
                UserCommand::List => {
                    let users = store.list_users().await.map_err(|e| e.to_string())?;
                    return print(serde_json::Value::Array(
                        users.iter().map(render::user).collect(),
                    ));
                }
            };
            print(render::user(&user.map_err(render::error)?))
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
