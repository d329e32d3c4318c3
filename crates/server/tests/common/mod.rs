//! Spawns a real Accord server per test on a fresh database (a temporary SQLite file, or a
//! new PostgreSQL database on the local server) and gives a client that reads like a user.

#![allow(dead_code)]

use accord::config::Config;
use accord::kernel::web::AppState;
use reqwest::{Client, Method, StatusCode};
use serde_json::Value;
use std::sync::atomic::{AtomicU32, Ordering};

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("ACCORD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique_name() -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("accord_test_{}_{}_{n}", std::process::id(), nanos)
}

/// Makes an empty database and returns its URL. PostgreSQL being unreachable fails the
/// test: the suite must never silently skip a backend.
pub async fn fresh_database(backend: Backend, dir: &std::path::Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}/accord.db", dir.display()),
        Backend::Postgres => {
            let admin = postgres_admin_url();
            let name = unique_name();
            let pool = sqlx::PgPool::connect(&admin)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is needed for this test: {e}"));
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&pool)
                .await
                .expect("create test database");
            pool.close().await;
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
            format!("{base}/{name}")
        }
    }
}

/// The server key file that `accord` processes started by tests share (one per machine; made
/// by the first one).
pub fn test_secret_key_file() -> std::path::PathBuf {
    std::env::temp_dir().join("accord-test-secret.key")
}

/// A running server.
pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub backend: Backend,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = fresh_database(backend, dir.path()).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let config = Config {
            listen: addr.to_string(),
            database_url,
            public_url: format!("http://{addr}"),
            secret_key_file: dir.path().join("accord-secret.key"),
        };
        let state = accord::prepare(config).await.expect("prepare");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serve_state = state.clone();
        tokio::spawn(async move {
            let _ = accord::serve(serve_state, listener, async {
                let _ = rx.await;
            })
            .await;
        });
        TestApp {
            base: format!("http://{addr}"),
            state,
            backend,
            _dir: dir,
            shutdown: Some(tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Adds an employee with a password and returns (id, API token).
    pub async fn employee(&self, email: &str, name: &str, admin: bool) -> (i64, String) {
        let id = accord::employees::add_with_password(
            &self.state,
            email,
            name,
            admin,
            "a long test password",
        )
        .await
        .expect("add user");
        let token = accord::auth::create_api_token(&self.state.db, id, "test")
            .await
            .expect("token");
        (id, token)
    }

    /// An API client for a new administrator.
    pub async fn admin_api(&self) -> Api {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let (_, token) = self
            .employee(&format!("admin{n}@accord.test"), "Ada Admin", true)
            .await;
        Api::new(&self.base, &token)
    }

    /// A browser-like client (cookies) logged in with e-mail and password.
    pub async fn browser_login(&self, email: &str, password: &str) -> Browser {
        let b = Browser::new(&self.base);
        let (status, _) = b.login(email, password).await;
        assert_eq!(
            status,
            StatusCode::SEE_OTHER,
            "login of {email} should succeed"
        );
        b
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A REST API client with a bearer token.
pub struct Api {
    pub base: String,
    pub token: String,
    pub client: Client,
}

impl Api {
    pub fn new(base: &str, token: &str) -> Api {
        Api {
            base: base.to_owned(),
            token: token.to_owned(),
            client: Client::new(),
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PATCH, path, Some(body)).await
    }

    /// Creates an object and returns its id, failing the test on any error.
    pub async fn create(&self, path: &str, body: Value) -> i64 {
        let (status, json) = self.post(path, body).await;
        assert_eq!(status, StatusCode::CREATED, "create {path}: {json}");
        json["id"].as_i64().expect("id")
    }
}

/// A cookie-keeping client that submits forms like a browser.
pub struct Browser {
    pub base: String,
    pub client: Client,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser {
            base: base.to_owned(),
            client: Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        }
    }

    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("get");
        let status = resp.status();
        (status, resp.text().await.unwrap_or_default())
    }

    /// The CSRF token in a page's forms.
    pub fn csrf_in(html: &str) -> String {
        let marker = "name=\"_csrf\" value=\"";
        html.find(marker)
            .map(|i| {
                let rest = &html[i + marker.len()..];
                rest[..rest.find('"').unwrap_or(0)].to_owned()
            })
            .unwrap_or_default()
    }

    /// Submits a form; `_csrf` is taken from the page at `page` unless given.
    pub async fn submit(
        &self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> (StatusCode, String, Option<String>) {
        let (_, html) = self.get(page).await;
        let csrf = Self::csrf_in(&html);
        let mut form: Vec<(String, String)> = vec![("_csrf".into(), csrf)];
        form.extend(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let resp = self
            .client
            .post(format!("{}{action}", self.base))
            .form(&form)
            .send()
            .await
            .expect("post");
        let status = resp.status();
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (status, resp.text().await.unwrap_or_default(), location)
    }

    pub async fn login(&self, email: &str, password: &str) -> (StatusCode, String) {
        let (status, body, _) = self
            .submit(
                "/login",
                "/login",
                &[("email", email), ("password", password)],
            )
            .await;
        (status, body)
    }
}

/// Runs one test body on both databases: `both!(name, |app| async move { ... })`.
#[macro_export]
macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::common::TestApp::spawn($crate::common::Backend::Sqlite).await;
                ($body)(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let app = $crate::common::TestApp::spawn($crate::common::Backend::Postgres).await;
                ($body)(app).await;
            }
        }
    };
}
