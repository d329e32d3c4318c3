//! The `accord` command line.

use crate::config::{
    Config, DEFAULT_DATABASE_URL, DEFAULT_LISTEN, DEFAULT_SECRET_KEY_FILE, FileConfig,
};
use crate::kernel::error::AppError;
use crate::kernel::web::AppState;
use clap::{Args, Parser, Subcommand};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

/// Accord: professional services automation (customers, tickets, projects, time, invoices).
#[derive(Debug, Parser)]
#[command(name = "accord", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Database URL: sqlite://FILE (created if missing) or postgres://USER@HOST/DB.
    /// Default: sqlite://accord.db in the current directory.
    #[arg(long, env = "ACCORD_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// The server key file that encrypts 2FA secrets at rest; made on first start if absent.
    /// Default: accord-secret.key in the current directory. Keep it out of database backups.
    #[arg(long, env = "ACCORD_SECRET_KEY_FILE", global = true)]
    pub secret_key_file: Option<PathBuf>,
    /// Optional TOML configuration file (keys: listen, database_url, public_url, log_format,
    /// secret_key_file).
    #[arg(long, env = "ACCORD_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Log format: "text" (default) or "json".
    #[arg(long, env = "ACCORD_LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (web UI, customer portal and REST API).
    Serve {
        /// Address and port to listen on, e.g. 127.0.0.1:8080 or 0.0.0.0:80.
        #[arg(long, env = "ACCORD_LISTEN")]
        listen: Option<String>,
        /// The address people reach Accord at, for links (default: http://LISTEN).
        #[arg(long, env = "ACCORD_PUBLIC_URL")]
        public_url: Option<String>,
        /// Load demo data first (only once: a database that has it is left alone).
        #[arg(long)]
        demo: bool,
    },
    /// Create or update the database schema, then exit.
    Migrate,
    /// Load demo data (customers, contacts, employees, products) and print the logins.
    Demo,
    /// Manage employees who log in.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage REST API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Run overnight processing for a date (default: today in the Nightly Run Time Zone).
    /// A date already done is left alone.
    Nightly {
        /// The date to run, YYYY-MM-DD.
        #[arg(long)]
        date: Option<String>,
    },
    /// Run only a background job worker (no web server), until stopped.
    #[command(hide = true)]
    Worker,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add an employee; the password is read from standard input (first line), never from
    /// the command line.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Make the employee an administrator.
        #[arg(long)]
        admin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for an employee and print only the token.
    Create {
        #[arg(long)]
        email: String,
        /// A name to recognise the token by in the user profile.
        #[arg(long, default_value = "Command line")]
        name: String,
    },
}

/// Resolves the configuration: flags and environment, then the file, then defaults.
fn resolve(
    global: &GlobalArgs,
    listen: Option<String>,
    public_url: Option<String>,
) -> anyhow::Result<Config> {
    let file = match &global.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let listen = listen
        .or(file.listen)
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let database_url = global
        .database_url
        .clone()
        .or(file.database_url)
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
    let public_url = public_url
        .or(file.public_url)
        .unwrap_or_else(|| format!("http://{listen}"));
    let secret_key_file = global
        .secret_key_file
        .clone()
        .or(file.secret_key_file)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SECRET_KEY_FILE));
    Ok(Config {
        listen,
        database_url,
        public_url,
        secret_key_file,
    })
}

fn init_tracing(format: Option<&str>) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ACCORD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == Some("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let file_format = cli
        .global
        .config
        .as_ref()
        .and_then(|p| FileConfig::load(p).ok())
        .and_then(|f| f.log_format);
    init_tracing(cli.global.log_format.as_deref().or(file_format.as_deref()));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            listen,
            public_url,
            demo,
        } => {
            let config = resolve(&cli.global, listen, public_url)?;
            let state = crate::prepare(config.clone()).await?;
            if demo {
                print_demo(&state, crate::demo::load(&state).await?);
            }
            let listener = tokio::net::TcpListener::bind(&config.listen)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
            let addr = listener.local_addr()?;
            tracing::info!(%addr, database = %redact(&config.database_url), "Accord is listening");
            println!("Accord is running at {}", config.public_url);
            crate::serve(state.clone(), listener, shutdown_signal()).await?;
            state.db.close().await;
            tracing::info!("stopped");
            Ok(())
        }
        Command::Migrate => {
            let config = resolve(&cli.global, None, None)?;
            crate::prepare(config).await?;
            println!("The database schema is up to date.");
            Ok(())
        }
        Command::Demo => {
            let config = resolve(&cli.global, None, None)?;
            let state = crate::prepare(config).await?;
            let outcome = crate::demo::load(&state).await?;
            print_demo(&state, outcome);
            Ok(())
        }
        Command::User {
            command: UserCommand::Add { email, name, admin },
        } => {
            let config = resolve(&cli.global, None, None)?;
            let state = crate::prepare(config).await?;
            let password = read_password()?;
            let id = crate::employees::add_with_password(&state, &email, &name, admin, &password)
                .await
                .map_err(describe)?;
            println!(
                "Employee #{id} {email} added{}.",
                if admin { " as an administrator" } else { "" }
            );
            Ok(())
        }
        Command::Nightly { date } => nightly(&cli.global, date).await,
        Command::Worker => worker(&cli.global).await,
        Command::Token {
            command: TokenCommand::Create { email, name },
        } => {
            let config = resolve(&cli.global, None, None)?;
            let state = crate::prepare(config).await?;
            let id = state
                .db
                .fetch_i64(
                    "SELECT id FROM employees WHERE email = $1 AND archived_at IS NULL",
                    crate::args![email.trim().to_lowercase()],
                )
                .await?
                .ok_or_else(|| {
                    anyhow::anyhow!("there is no active employee with e-mail {email}")
                })?;
            let token = crate::auth::create_api_token(&state.db, id, &name)
                .await
                .map_err(describe)?;
            println!("{token}");
            Ok(())
        }
    }
}

async fn nightly(global: &GlobalArgs, date: Option<String>) -> anyhow::Result<()> {
    let config = resolve(global, None, None)?;
    let state = crate::prepare(config).await?;
    let date = match date {
        Some(text) => accord_domain::nightly::Date::parse(&text).ok_or_else(|| {
            anyhow::anyhow!("--date must be a date like 2026-12-31, not {text:?}")
        })?,
        None => {
            crate::kernel::nightly::local_today(&state.db)
                .await
                .map_err(describe)?
                .0
        }
    };
    match crate::kernel::nightly::run_date(&state.db, date)
        .await
        .map_err(describe)?
    {
        Some(summary) => println!("Nightly run for {date} done: {summary}"),
        None => println!("The nightly run for {date} was already done; nothing to do."),
    }
    Ok(())
}

async fn worker(global: &GlobalArgs) -> anyhow::Result<()> {
    let config = resolve(global, None, None)?;
    let state = crate::prepare(config).await?;
    let worker = crate::kernel::jobs::Worker::new();
    println!("Worker {} is running", worker.id);
    tokio::select! {
        () = crate::kernel::jobs::work(state.clone(), worker) => {},
        () = shutdown_signal() => {},
    }
    state.db.close().await;
    Ok(())
}

fn describe(e: AppError) -> anyhow::Error {
    match e {
        AppError::Validation(errors) => anyhow::anyhow!("invalid input: {errors}"),
        other => anyhow::anyhow!("{other}"),
    }
}

fn redact(url: &str) -> String {
    match url.split_once('@') {
        Some((before, after)) if before.contains("://") => {
            let scheme = before.split("://").next().unwrap_or("");
            format!("{scheme}://…@{after}")
        }
        _ => url.to_owned(),
    }
}

fn read_password() -> anyhow::Result<String> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let password = input.lines().next().unwrap_or("").to_owned();
    if password.is_empty() {
        anyhow::bail!(
            "give the password on standard input, e.g.: echo 'a long password' | accord user add ..."
        );
    }
    Ok(password)
}

fn print_demo(state: &AppState, outcome: crate::demo::Outcome) {
    match outcome {
        crate::demo::Outcome::Loaded => println!("Demo data loaded."),
        crate::demo::Outcome::AlreadyThere => println!("Demo data is already in this database."),
    }
    println!(
        "Log in at {}/login as {} with password {}",
        state.config.public_url.trim_end_matches('/'),
        crate::demo::ADMIN_EMAIL,
        crate::demo::ADMIN_PASSWORD
    );
    println!(
        "Customer portal: {} with password {}",
        crate::demo::PORTAL_EMAIL,
        crate::demo::PORTAL_PASSWORD
    );
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
