//! The platform around the objects: health, OpenAPI completeness, migrations in step,
//! the command line and graceful shutdown.

mod common;

use common::{Backend, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

both!(health_is_reported, |app: TestApp| async move {
    let resp = reqwest::get(app.url("/healthz")).await.expect("get");
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["status"], "ok");
});

/// The paths issue #2 promises other programs.
const REQUIRED: &[(&str, &str)] = &[
    ("get", "/api/v1/me"),
    ("get", "/api/v1/{type}"),
    ("post", "/api/v1/{type}"),
    ("get", "/api/v1/{type}/{id}"),
    ("patch", "/api/v1/{type}/{id}"),
    ("post", "/api/v1/{type}/{id}/archive"),
    ("get", "/api/v1/{type}/{id}/audit-log"),
    ("get", "/api/v1/{type}/{id}/posts"),
    ("post", "/api/v1/{type}/{id}/posts"),
];

both!(
    openapi_documents_every_route_and_every_documented_route_exists,
    |app: TestApp| async move {
        let api = app.admin_api().await;
        let (status, doc) = api.get("/api/openapi.json").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().expect("paths");
        for object_type in [
            "customers",
            "contacts",
            "employees",
            "legal-entities",
            "products",
            "settings",
        ] {
            for (method, template) in REQUIRED {
                let path = template.replace("{type}", object_type);
                assert!(
                    paths.get(&path).and_then(|p| p.get(*method)).is_some(),
                    "{method} {path} is not documented"
                );
            }
        }
        // Every documented operation is served: no 404 for the route, no 405 for the method.
        let customer = api
            .create("/api/v1/customers", json!({"name": "Probe"}))
            .await;
        let mut checked = 0;
        for (path, ops) in paths {
            let concrete = path.replace("{id}", &customer.to_string());
            let concrete = if concrete.starts_with("/api/v1/settings/") {
                concrete.replace(&format!("/settings/{customer}"), "/settings/1")
            } else {
                concrete
            };
            for method in ops.as_object().expect("ops").keys() {
                let m =
                    reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
                let body = (m != reqwest::Method::GET).then(|| json!({}));
                let (status, body) = api.send(m, &concrete, body).await;
                assert_ne!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {concrete}: {body}"
                );
                let not_found_route = status == StatusCode::NOT_FOUND
                    && body["detail"]
                        .as_str()
                        .is_some_and(|d| d.starts_with("There is no API endpoint"));
                assert!(
                    !not_found_route,
                    "{method} {concrete} is documented but not served: {body}"
                );
                checked += 1;
            }
        }
        assert!(checked >= 50, "only {checked} operations");
    }
);

fn migration_names(dir: &str) -> Vec<String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/");
    let mut names: Vec<String> = std::fs::read_dir(format!("{root}{dir}"))
        .expect("migrations dir")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    names
}

#[derive(sqlx::FromRow)]
struct ColumnRow {
    table_name: String,
    column_name: String,
}

#[tokio::test]
async fn migrations_are_kept_in_step_for_both_databases() {
    assert_eq!(
        migration_names("sqlite"),
        migration_names("postgres"),
        "same migration files"
    );
    let sqlite = TestApp::spawn(Backend::Sqlite).await;
    let postgres = TestApp::spawn(Backend::Postgres).await;
    let sqlite_columns: BTreeSet<(String, String)> = sqlite
        .state
        .db
        .fetch_all::<ColumnRow>(
            "SELECT m.name AS table_name, p.name AS column_name FROM sqlite_master m, pragma_table_info(m.name) p
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%'
               AND m.name NOT LIKE '%_search%'",
            vec![],
        )
        .await
        .expect("sqlite columns")
        .into_iter()
        .map(|r| (r.table_name, r.column_name))
        .collect();
    let pg_columns: BTreeSet<(String, String)> = postgres
        .state
        .db
        .fetch_all::<ColumnRow>(
            "SELECT table_name::text AS table_name, column_name::text AS column_name FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%'",
            vec![],
        )
        .await
        .expect("postgres columns")
        .into_iter()
        .map(|r| (r.table_name, r.column_name))
        .collect();
    assert!(sqlite_columns.len() > 50);
    assert_eq!(
        sqlite_columns, pg_columns,
        "the two schemas have the same tables and columns"
    );
}

fn accord(db: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_accord"));
    cmd.env("ACCORD_DATABASE_URL", db)
        .env("ACCORD_SECRET_KEY_FILE", common::test_secret_key_file())
        .env_remove("ACCORD_LISTEN");
    cmd
}

#[test]
fn the_command_line_adds_users_and_tokens_and_loads_demo_data_once() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}/cli.db", dir.path().display());

    let help = accord(&db).arg("--help").output().expect("help");
    let help = String::from_utf8_lossy(&help.stdout);
    for word in ["serve", "migrate", "demo", "user", "token"] {
        assert!(help.contains(word), "--help mentions {word}: {help}");
    }

    let status = accord(&db).arg("migrate").status().expect("migrate");
    assert!(status.success());

    let mut child = accord(&db)
        .args([
            "user",
            "add",
            "--email",
            "Cli@Accord.test",
            "--name",
            "Cli User",
            "--admin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"password from stdin\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let out = accord(&db)
        .args(["token", "create", "--email", "cli@accord.test"])
        .output()
        .expect("token");
    assert!(out.status.success());
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        token.starts_with("acc_") && !token.contains(' ') && !token.contains('\n'),
        "only the token: {token:?}"
    );

    let out = accord(&db)
        .args(["token", "create", "--email", "nobody@accord.test"])
        .output()
        .expect("token");
    assert!(!out.status.success(), "unknown employee");

    // A too-short password is refused with a message, and nothing is created.
    let mut child = accord(&db)
        .args([
            "user",
            "add",
            "--email",
            "short@accord.test",
            "--name",
            "Short",
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"short\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 10 characters"));

    for _ in 0..2 {
        let out = accord(&db).arg("demo").output().expect("demo");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("admin@accord.example"));
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (customers, employees) = rt.block_on(async {
        let db = accord::kernel::db::Db::connect(&db).await.expect("connect");
        let c = db
            .fetch_i64("SELECT COUNT(*) FROM customers", vec![])
            .await
            .expect("count");
        let e = db
            .fetch_i64("SELECT COUNT(*) FROM employees", vec![])
            .await
            .expect("count");
        (c, e)
    });
    assert_eq!(customers, Some(8), "demo data loaded once");
    assert_eq!(employees, Some(5), "the CLI user and four demo employees");
}

#[test]
fn serve_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}/serve.db", dir.path().display());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let mut child = accord(&db)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let healthy = rt.block_on(async {
        for _ in 0..100 {
            if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await {
                return r.status() == StatusCode::OK;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        false
    });
    assert!(healthy, "the server answered /healthz");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let mut exited = None;
    for _ in 0..100 {
        if let Ok(Some(status)) = child.try_wait() {
            exited = Some(status);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let status = exited.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("the server did not stop within 10 s of SIGTERM");
    });
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");
}
