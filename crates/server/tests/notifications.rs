//! Notifications, System Email Templates, the live bell and real mail to a real SMTP server
//! (Python's aiosmtpd from the test virtualenv, started by the test), on SQLite and
//! PostgreSQL.

mod common;

use common::{Api, Backend, Browser, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "a long test password";

/// The Python of the test virtualenv (`ACCORD_VENV`, else `.venv` in the workspace). A
/// missing Python or aiosmtpd fails the test: mail must never go untested.
fn python() -> PathBuf {
    let venv = std::env::var("ACCORD_VENV").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv"),
        PathBuf::from,
    );
    let python = venv.join("bin/python");
    let ok = Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{} with aiosmtpd is needed (scripts/test installs it: pip install aiosmtpd)",
        python.display()
    );
    python
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A real SMTP server on loopback writing what it accepts to `dir`.
struct Sink {
    child: Child,
    dir: PathBuf,
}

impl Sink {
    fn start(port: u16, dir: &Path, drop_mid_send: bool) -> Sink {
        Sink::start_with(port, dir, if drop_mid_send { "--drop" } else { "" })
    }

    /// `mode`: "" (accept), "--drop" (vanish mid-send) or "--reject" (550 every recipient).
    fn start_with(port: u16, dir: &Path, mode: &str) -> Sink {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py");
        let mut cmd = Command::new(python());
        cmd.arg(script).arg(port.to_string()).arg(dir);
        if !mode.is_empty() {
            cmd.arg(mode);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the SMTP sink");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
            .expect("sink output");
        assert_eq!(line.trim(), "READY", "the SMTP sink did not start");
        Sink {
            child,
            dir: dir.to_owned(),
        }
    }

    fn mails(&self) -> Vec<String> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn set_setting(api: &Api, key: &str, value: Value) {
    let (status, body) = api
        .patch(
            &format!("/api/v1/settings/{key}"),
            json!({ "value": value }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{key}: {body}");
}

async fn use_smtp(api: &Api, port: u16) {
    set_setting(api, "smtp_host", json!("127.0.0.1")).await;
    set_setting(api, "smtp_port", json!(port)).await;
    set_setting(api, "smtp_security", json!("none")).await;
    set_setting(api, "smtp_from", json!("Accord <psa@accord.test>")).await;
}

struct People {
    admin: Api,
    bob_id: i64,
    bob: Api,
    customer: i64,
}

async fn people(app: &TestApp) -> People {
    let (_, admin_token) = app.employee("ada@accord.test", "Ada Admin", true).await;
    let (bob_id, bob_token) = app.employee("bob@accord.test", "Bob Builder", false).await;
    let admin = Api::new(&app.base, &admin_token);
    let customer = admin
        .create("/api/v1/customers", json!({"name": "Acme Ltd"}))
        .await;
    People {
        admin,
        bob_id,
        bob: Api::new(&app.base, &bob_token),
        customer,
    }
}

async fn mention(p: &People, text: &str) {
    let (status, body) = p
        .admin
        .post(
            &format!("/api/v1/customers/{}/posts", p.customer),
            json!({"body": text, "tagged_employee_ids": [p.bob_id]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn unread(api: &Api) -> i64 {
    let (status, body) = api.get("/api/v1/notifications/count").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["unread"].as_i64().expect("unread")
}

both!(
    tagging_notifies_in_app_and_by_mail_and_opening_marks_read,
    |app: TestApp| async move {
        let p = people(&app).await;
        assert_eq!(unread(&p.bob).await, 0);
        mention(&p, "Could you call them back?").await;
        assert_eq!(unread(&p.bob).await, 1);
        assert_eq!(unread(&p.admin).await, 0, "the author is not notified");

        let (_, list) = p
            .bob
            .get("/api/v1/notifications?unread=true&category=Mentions")
            .await;
        assert_eq!(list["total"], 1);
        let n = &list["items"][0];
        assert_eq!(n["event_kind"], "mentioned_in_post");
        assert_eq!(n["object_type"], "customers");
        assert_eq!(n["title"], "Ada Admin mentioned you on Acme Ltd");
        assert_eq!(n["channels"], json!(["in-app", "email"]));

        // The mail waits in the Outbox (no SMTP configured), with a link to the public URL.
        let (_, outbox) = p.admin.get("/api/v1/outbox").await;
        assert_eq!(outbox["total"], 1);
        let mail = &outbox["items"][0];
        assert_eq!(mail["to"], "bob@accord.test");
        assert_eq!(mail["status"], "queued");
        let link = format!("{}/customers/{}", app.base, p.customer);
        assert!(mail["body_text"].as_str().unwrap_or("").contains(&link));
        assert!(
            mail["body_html"]
                .as_str()
                .unwrap_or("")
                .contains(&format!("href=\"{link}\""))
        );
        let (status, _) = p.bob.get("/api/v1/outbox").await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "only administrators read the Outbox"
        );

        // Bob's list shows the customer in bold, until he opens it ("opened" marks read).
        let bob = app.browser_login("bob@accord.test", PASSWORD).await;
        let (_, html) = bob.get("/customers").await;
        assert!(html.contains("class=\"unread\""), "the row is bold");
        assert!(html.contains("data-bell-count>1<"), "the bell shows 1");
        let (status, _) = bob.get(&format!("/customers/{}", p.customer)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(unread(&p.bob).await, 0);
        let (_, html) = bob.get("/customers").await;
        assert!(
            !html.contains("class=\"unread\""),
            "the row is normal again"
        );

        // The object's Audit Log tab lists the notification: to whom, channel, when read.
        let admin_browser = app.browser_login("ada@accord.test", PASSWORD).await;
        let (_, html) = admin_browser
            .get(&format!("/customers/{}?tab=audit", p.customer))
            .await;
        assert!(html.contains("Bob Builder"));
        assert!(html.contains("in-app, email"));
        assert!(!html.contains(">Unread<"));
    }
);

both!(
    mark_as_read_one_all_and_per_category,
    |app: TestApp| async move {
        let p = people(&app).await;
        mention(&p, "one").await;
        mention(&p, "two").await;
        mention(&p, "three").await;
        assert_eq!(unread(&p.bob).await, 3);
        let (_, list) = p.bob.get("/api/v1/notifications").await;
        let id = list["items"][0]["id"].as_i64().expect("id");
        let (status, body) = p
            .admin
            .post(&format!("/api/v1/notifications/{id}/read"), json!({}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "not someone else's: {body}");
        let (status, body) = p
            .bob
            .post(&format!("/api/v1/notifications/{id}/read"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["unread"], 2);
        let (_, body) = p
            .bob
            .post(
                "/api/v1/notifications/read-all?category=Approvals",
                json!({}),
            )
            .await;
        assert_eq!(body["marked"], 0);
        let (_, body) = p
            .bob
            .post(
                "/api/v1/notifications/read-all?category=Mentions",
                json!({}),
            )
            .await;
        assert_eq!(body["marked"], 2);
        assert_eq!(unread(&p.bob).await, 0);
        let (status, _) = p.bob.get("/api/v1/notifications?category=Nonsense").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
);

both!(
    templates_are_checked_and_their_switches_obeyed,
    |app: TestApp| async move {
        let p = people(&app).await;
        let path = "/api/v1/email-templates/mentioned_in_post";
        let (status, body) = p
            .admin
            .patch(path, json!({"subject": "Hi {{object.nmae}}"}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (status, _) = p.bob.patch(path, json!({"in_app": false})).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, body) = p
            .admin
            .patch(
                path,
                json!({"subject": "Ping about {{ object.name }}", "email": false}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["customised"], true);
        mention(&p, "in-app only").await;
        let (_, list) = p.bob.get("/api/v1/notifications").await;
        assert_eq!(list["items"][0]["title"], "Ping about Acme Ltd");
        let (_, outbox) = p.admin.get("/api/v1/outbox").await;
        assert_eq!(outbox["total"], 0, "Email Notifications off: no mail");

        p.admin.patch(path, json!({"in_app": false})).await;
        mention(&p, "nobody hears").await;
        let (_, list) = p.bob.get("/api/v1/notifications").await;
        assert_eq!(list["total"], 1, "both switches off: disabled");
    }
);

/// Reads server-sent events until a `count` event arrives; returns its number.
async fn next_count(resp: &mut reqwest::Response, buffer: &mut String) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if event.contains("event: count") {
                let data = event
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .expect("data line");
                return data.trim().parse().expect("a number");
            }
            continue;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, resp.chunk())
            .await
            .expect("a count event in time")
            .expect("stream")
            .expect("stream still open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

both!(the_bell_count_is_pushed_live, |app: TestApp| async move {
    let p = people(&app).await;
    let bob = app.browser_login("bob@accord.test", PASSWORD).await;
    let mut resp = bob
        .client
        .get(app.url("/notifications/stream"))
        .send()
        .await
        .expect("stream");
    assert_eq!(resp.status(), StatusCode::OK);
    let mut buffer = String::new();
    assert_eq!(next_count(&mut resp, &mut buffer).await, 0);
    let started = Instant::now();
    mention(&p, "live").await;
    assert_eq!(next_count(&mut resp, &mut buffer).await, 1);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "pushed, not polled: {:?}",
        started.elapsed()
    );
    bob.get(&format!("/customers/{}", p.customer)).await;
    assert_eq!(next_count(&mut resp, &mut buffer).await, 0);
});

/// Two instances on one PostgreSQL: the event is committed through instance 1, Bob's bell
/// is open on instance 2 (a real `accord serve` process), and the count still arrives live
/// (PostgreSQL `NOTIFY` → the other instance's `LISTEN`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bell_is_live_across_two_instances_on_one_postgres() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let p = people(&app).await;
    let port = free_port();
    let mut second = Command::new(env!("CARGO_BIN_EXE_accord"))
        .env("ACCORD_SECRET_KEY_FILE", common::test_secret_key_file())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("ACCORD_DATABASE_URL", &app.state.config.database_url)
        .env("ACCORD_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a second instance");
    let base2 = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    while reqwest::get(format!("{base2}/healthz")).await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "second instance did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let bob = Browser::new(&base2);
    let (status, _) = bob.login("bob@accord.test", PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let mut resp = bob
        .client
        .get(format!("{base2}/notifications/stream"))
        .send()
        .await
        .expect("stream");
    let mut buffer = String::new();
    assert_eq!(next_count(&mut resp, &mut buffer).await, 0);
    let started = Instant::now();
    mention(&p, "across instances").await;
    assert_eq!(next_count(&mut resp, &mut buffer).await, 1);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let _ = second.kill();
    let _ = second.wait();
}

async fn mail_status(app: &TestApp) -> (String, i64, Option<String>) {
    app.state
        .db
        .fetch_one::<(String, i64, Option<String>)>(
            "SELECT status, attempts, last_error FROM outbox ORDER BY id LIMIT 1",
            vec![],
        )
        .await
        .expect("mail")
}

/// Sends due mails until the first mail is sent (the server's own periodic task may be
/// the one that sends it).
async fn until_sent(app: &TestApp) {
    let start = Instant::now();
    loop {
        accord::mail::send_due(&app.state).await.expect("send");
        if mail_status(app).await.0 == "sent" {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{:?}",
            mail_status(app).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

both!(mail_reaches_a_real_smtp_server, |app: TestApp| async move {
    let p = people(&app).await;
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let sink = Sink::start(port, dir.path(), false);
    use_smtp(&p.admin, port).await;
    mention(&p, "Mail me <b>now</b>").await;
    until_sent(&app).await;
    let mails = sink.mails();
    assert_eq!(mails.len(), 1, "exactly one mail arrived");
    let raw = &mails[0];
    assert!(raw.contains("To: bob@accord.test"), "{raw}");
    assert!(raw.contains("From: Accord <psa@accord.test>"), "{raw}");
    assert!(
        raw.contains("Subject: Ada Admin mentioned you on Acme Ltd"),
        "{raw}"
    );
    assert!(raw.contains("multipart/alternative"), "{raw}");
    assert!(
        raw.contains("text/plain") && raw.contains("text/html"),
        "{raw}"
    );
    assert!(
        raw.contains("&lt;b&gt;now&lt;/b&gt;"),
        "HTML part escapes the text: {raw}"
    );
    let (_, outbox) = p.admin.get("/api/v1/outbox").await;
    let message_id = outbox["items"][0]["message_id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert!(raw.contains(&message_id), "the stored Message-ID is sent");
    assert!(outbox["items"][0]["sent_at"].is_string());
    // Nothing more goes out later.
    accord::mail::send_due(&app.state).await.expect("send");
    assert_eq!(sink.mails().len(), 1);
});

both!(
    a_refused_or_vanishing_server_leaves_mail_queued_then_sent_once,
    |app: TestApp| async move {
        let p = people(&app).await;
        let dir = tempfile::tempdir().expect("dir");
        let port = free_port();
        use_smtp(&p.admin, port).await;
        mention(&p, "retry me").await;

        // Nothing listens: refused, queued for a retry with the reason.
        accord::mail::send_due(&app.state).await.expect("send");
        let (status, attempts, error) = mail_status(&app).await;
        assert_eq!((status.as_str(), attempts), ("queued", 1));
        assert!(error.is_some_and(|e| !e.is_empty()));

        // The server vanishes mid-send (closes after the message, before answering).
        let vanishing = Sink::start(port, dir.path(), true);
        let (_, outbox) = p.admin.get("/api/v1/outbox").await;
        let id = outbox["items"][0]["id"].as_i64().expect("id");
        let (status, body) = p
            .admin
            .post(&format!("/api/v1/outbox/{id}/resend"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "queued");
        accord::mail::send_due(&app.state).await.expect("send");
        // Resend starts the count again; the vanished server's attempt is counted.
        let (status, attempts, error) = mail_status(&app).await;
        assert_eq!((status.as_str(), attempts), ("queued", 1), "kept for retry");
        assert!(error.is_some(), "the failure is recorded");
        assert!(
            dir.path().read_dir().map(|d| d.count()).unwrap_or(0) == 0,
            "nothing accepted"
        );
        drop(vanishing);

        // The server is back: Resend (or the back-off) delivers it, once.
        let sink = Sink::start(port, dir.path(), false);
        p.admin
            .post(&format!("/api/v1/outbox/{id}/resend"), json!({}))
            .await;
        until_sent(&app).await;
        accord::mail::send_due(&app.state).await.expect("send");
        assert_eq!(sink.mails().len(), 1, "sent exactly once");
    }
);

both!(pages_of_the_platform_render, |app: TestApp| async move {
    let p = people(&app).await;
    mention(&p, "for the pages").await;
    let admin = app.browser_login("ada@accord.test", PASSWORD).await;
    for path in [
        "/notifications",
        "/setup/email-templates",
        "/setup/email-templates/mentioned_in_post",
        "/setup/outbox",
        "/setup/outbox/1",
        "/setup/jobs",
    ] {
        let (status, html) = admin.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {html}");
    }
    // Preview renders the sample without saving; an unknown placeholder is refused.
    let page = "/setup/email-templates/mentioned_in_post";
    let fields = [
        ("subject", "Preview {{object.name}}"),
        ("body", "Hello {{recipient.name}} {{link}}"),
        ("in_app", "on"),
        ("email", "on"),
        ("mark_read_events", "opened"),
        ("action", "preview"),
    ];
    let (status, html, _) = admin.submit(page, page, &fields).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Preview Acme Ltd"), "{html}");
    let (_, t) = p
        .admin
        .get("/api/v1/email-templates/mentioned_in_post")
        .await;
    assert_eq!(t["customised"], false, "a preview saves nothing");
    let bad = [("subject", "{{nope}}"), ("body", "x"), ("action", "save")];
    let (status, _, _) = admin.submit(page, page, &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let bob = app.browser_login("bob@accord.test", PASSWORD).await;
    let (status, _) = bob.get("/setup/jobs").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
});

both!(
    a_mail_left_sending_by_a_crashed_sender_goes_again_with_its_message_id,
    |app: TestApp| async move {
        let p = people(&app).await;
        mention(&p, "crash window").await;
        // A sender claimed it and died: `sending`, lease 1 s ago.
        app.state
            .db
            .execute(
                "UPDATE outbox SET status = 'sending', attempts = 1, locked_until = $1",
                accord::args![accord::kernel::db::now() - 1_000_000],
            )
            .await
            .expect("update");
        let (_, outbox) = p.admin.get("/api/v1/outbox").await;
        assert_eq!(outbox["items"][0]["status"], "sending");
        let message_id = outbox["items"][0]["message_id"]
            .as_str()
            .expect("id")
            .to_owned();
        let dir = tempfile::tempdir().expect("dir");
        let port = free_port();
        let sink = Sink::start(port, dir.path(), false);
        use_smtp(&p.admin, port).await;
        until_sent(&app).await;
        let mails = sink.mails();
        assert_eq!(mails.len(), 1);
        assert!(
            mails[0].contains(&message_id),
            "the same Message-ID lets receivers drop a duplicate"
        );
        let (status, attempts, _) = mail_status(&app).await;
        assert_eq!((status.as_str(), attempts), ("sent", 2));
    }
);

both!(
    a_permanent_refusal_fails_the_mail_with_the_servers_answer,
    |app: TestApp| async move {
        let p = people(&app).await;
        let dir = tempfile::tempdir().expect("dir");
        let port = free_port();
        let _sink = Sink::start_with(port, dir.path(), "--reject");
        use_smtp(&p.admin, port).await;
        mention(&p, "to nowhere").await;
        let start = Instant::now();
        while mail_status(&app).await.0 != "failed" {
            accord::mail::send_due(&app.state).await.expect("send");
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{:?}",
                mail_status(&app).await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (_, attempts, error) = mail_status(&app).await;
        assert_eq!(attempts, 1, "a permanent refusal is not retried");
        let error = error.unwrap_or_default();
        assert!(
            error.contains("No such mailbox"),
            "the server's answer is kept: {error}"
        );
    }
);

both!(
    the_objects_own_bell_and_replying_mark_read_when_opening_does_not,
    |app: TestApp| async move {
        let p = people(&app).await;
        let (status, body) = p
            .admin
            .patch(
                "/api/v1/email-templates/mentioned_in_post",
                json!({"mark_read_events": ["replied"]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        mention(&p, "first").await;
        let bob = app.browser_login("bob@accord.test", PASSWORD).await;
        let page = format!("/customers/{}", p.customer);
        let (_, html) = bob.get(&page).await;
        assert_eq!(
            unread(&p.bob).await,
            1,
            "opening is no longer a Mark As Read Event"
        );
        assert!(
            html.contains("1 unread · Mark as read"),
            "the object's own bell"
        );
        let (status, _, location) = bob
            .submit(
                &page,
                "/notifications/read-object",
                &[
                    ("object_type", "customers"),
                    ("object_id", &p.customer.to_string()),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(location.as_deref(), Some(page.as_str()));
        assert_eq!(unread(&p.bob).await, 0);

        // Replying (a post by the recipient on the object) marks read.
        mention(&p, "second").await;
        assert_eq!(unread(&p.bob).await, 1);
        let (status, body) = p
            .bob
            .post(
                &format!("/api/v1/customers/{}/posts", p.customer),
                json!({"body": "Done, called them."}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(unread(&p.bob).await, 0);
    }
);
