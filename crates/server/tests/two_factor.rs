//! Two-factor authentication through a real server on both databases: enrolment, the code
//! step of a login (JSON and pages), replay and drift, recovery codes, throttling, the
//! administrators' modes, and codes made by an authenticator no one here wrote (pyotp).

mod common;

use accord::args;
use accord_domain::two_factor::{DIGITS, base32_decode, code_at, step_at};
use common::{Api, Browser, TestApp};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "a long test password";

/// A client that logs in with the JSON flow and keeps the session cookie, as the Outlook
/// add-in does.
struct Session {
    base: String,
    client: Client,
    csrf: String,
}

impl Session {
    /// Logs in with e-mail and password; returns the session and the login's `status`.
    async fn login(app: &TestApp, email: &str) -> (Session, String) {
        let client = Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let resp = client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("login");
        assert_eq!(resp.status(), StatusCode::OK, "login of {email}");
        let body: Value = resp.json().await.expect("json");
        let session = Session {
            base: app.base.clone(),
            client,
            csrf: body["csrf_token"].as_str().expect("csrf").to_owned(),
        };
        (session, body["status"].as_str().expect("status").to_owned())
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("X-CSRF-Token", &self.csrf);
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

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    /// The status and `Location` of a page request.
    async fn page(&self, path: &str) -> (StatusCode, Option<String>) {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("page");
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (resp.status(), location)
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The code of the step `offset` steps from now, as an authenticator app would show it.
fn code(secret: &[u8], offset: i64) -> String {
    format!(
        "{:06}",
        code_at(secret, step_at(now_secs()) + offset, DIGITS)
    )
}

/// A six-digit code that is none of the codes of the steps around now.
fn wrong_code(secret: &[u8]) -> String {
    let now = step_at(now_secs());
    let taken: Vec<u32> = (now - 2..=now + 2)
        .map(|s| code_at(secret, s, DIGITS))
        .collect();
    let wrong = (0..1_000_000u32)
        .map(|c| (taken[0] + 499_999 + c) % 1_000_000)
        .find(|c| !taken.contains(c))
        .unwrap_or(0);
    format!("{wrong:06}")
}

/// Waits until at least five seconds remain in the current time step, so that a test's codes
/// are not split across a step boundary.
async fn clear_of_step_boundary() {
    let into = now_secs().rem_euclid(30);
    if into > 24 {
        tokio::time::sleep(std::time::Duration::from_secs((31 - into) as u64)).await;
    }
}

/// Enrols the session's account; returns the secret and the recovery codes. Confirms with
/// the previous step's code, leaving the current and next steps for logins.
async fn enrol(session: &Session, email: &str) -> (Vec<u8>, Vec<String>) {
    let (status, enrolment) = session.post("/api/v1/me/2fa/enrol", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{enrolment}");
    let uri = enrolment["otpauth_uri"].as_str().expect("uri");
    let secret_text = enrolment["secret"].as_str().expect("secret");
    assert!(uri.starts_with("otpauth://totp/Accord:"), "{uri}");
    assert!(uri.contains(&format!("secret={secret_text}")), "{uri}");
    for part in ["issuer=Accord", "algorithm=SHA1", "digits=6", "period=30"] {
        assert!(uri.contains(part), "{uri} has {part}");
    }
    assert!(
        uri.contains(&email.replace('+', "%2B")),
        "{uri} names {email}"
    );
    let secret = base32_decode(secret_text).expect("base32 secret");
    assert_eq!(secret.len(), 20);
    let (status, problem) = session
        .post(
            "/api/v1/me/2fa/confirm",
            json!({"code": wrong_code(&secret)}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "code", "{problem}");
    let (status, confirmed) = session
        .post("/api/v1/me/2fa/confirm", json!({"code": code(&secret, -1)}))
        .await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    let codes: Vec<String> = confirmed["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    let mut distinct = codes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 10);
    (secret, codes)
}

async fn audit_actions(api: &Api, path: &str) -> Vec<String> {
    let (status, body) = api.get(path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["action"].as_str().unwrap_or("").to_owned())
        .collect()
}

both!(
    a_login_with_2fa_needs_a_current_unused_code,
    |app: TestApp| async move {
        clear_of_step_boundary().await;
        let email = "ana+2fa@accord.test";
        let (id, _) = app.employee(email, "Ana Two", false).await;
        let admin = app.admin_api().await;

        let (ana, status) = Session::login(&app, email).await;
        assert_eq!(status, "ok");
        let (status, _) = ana.post("/api/v1/me/2fa/enrol", json!({})).await;
        assert_eq!(status, StatusCode::OK);
        // Until a code confirms the enrolment, logging in is as before.
        let (_, status) = Session::login(&app, email).await;
        assert_eq!(status, "ok");
        let (secret, recovery) = enrol(&ana, email).await;
        let (_, me) = ana.get("/api/v1/me/2fa").await;
        assert_eq!(me["enrolled"], json!(true));
        assert_eq!(me["recovery_codes_left"], json!(10));

        // The password alone now stops short of everything.
        let (pending, status) = Session::login(&app, email).await;
        assert_eq!(status, "totp_required");
        let (status, problem) = pending.get("/api/v1/customers").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            problem["detail"].as_str().unwrap_or("").contains("code"),
            "{problem}"
        );
        assert_eq!(pending.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
        let (status, location) = pending.page("/customers").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(location.as_deref(), Some("/login/2fa"));
        // Nor can it make an API token (which would bypass the code).
        let resp = pending
            .client
            .post(app.url("/profile/tokens"))
            .form(&[("_csrf", pending.csrf.as_str()), ("name", "sneaky")])
            .send()
            .await
            .expect("post");
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let tokens = app
            .state
            .db
            .fetch_i64(
                "SELECT COUNT(*) FROM api_tokens WHERE employee_id = $1",
                args![id],
            )
            .await
            .expect("count");
        assert_eq!(tokens, Some(1), "only the test's own token exists");

        // A code from two steps ago is refused; the current one lets the session in.
        let (status, _) = pending
            .post("/api/v1/auth/totp", json!({"code": code(&secret, -2)}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let current = code(&secret, 0);
        let (status, body) = pending
            .post("/api/v1/auth/totp", json!({"code": current}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "ok");
        let (status, me) = pending.get("/api/v1/me").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(me["email"], email);

        // The same code again (replay) is refused, even on a new login.
        let (replay, _) = Session::login(&app, email).await;
        let (status, problem) = replay
            .post("/api/v1/auth/totp", json!({"code": current}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap_or("")
                .contains("used already"),
            "{problem}"
        );

        // A recovery code works once.
        let (status, body) = replay
            .post(
                "/api/v1/auth/totp",
                json!({"code": recovery[3].to_uppercase()}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["recovery_codes_left"], json!(9));
        let (again, _) = Session::login(&app, email).await;
        let (status, _) = again
            .post("/api/v1/auth/totp", json!({"code": recovery[3]}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

        // Bearer tokens are not affected by 2FA.
        let (status, _) = admin.get("/api/v1/customers").await;
        assert_eq!(status, StatusCode::OK);

        let actions = audit_actions(&admin, &format!("/api/v1/employees/{id}/audit-log")).await;
        assert!(actions.iter().any(|a| a == "2FA set up"), "{actions:?}");
        assert!(
            actions
                .iter()
                .any(|a| a == "2FA recovery code used (9 left)"),
            "{actions:?}"
        );
        // The secret is stored encrypted, never as the base32 text an app reads.
        let secret_text = accord_domain::two_factor::base32_encode(&secret);
        let found = app
            .state
            .db
            .fetch_i64(
                "SELECT COUNT(*) FROM two_factor WHERE secret LIKE $1",
                args![format!("%{secret_text}%")],
            )
            .await
            .expect("count");
        assert_eq!(found, Some(0));
    }
);

both!(
    twenty_wrong_codes_lock_the_account_for_a_while,
    |app: TestApp| async move {
        clear_of_step_boundary().await;
        let email = "bo@accord.test";
        let (id, _) = app.employee(email, "Bo Locked", false).await;
        let admin = app.admin_api().await;
        let (bo, _) = Session::login(&app, email).await;
        let (secret, _) = enrol(&bo, email).await;

        let (pending, status) = Session::login(&app, email).await;
        assert_eq!(status, "totp_required");
        let wrong = wrong_code(&secret);
        // The wrong code tried while enrolling counts too: nine more make ten.
        let mut statuses = Vec::new();
        for _ in 0..20 {
            let (status, _) = pending
                .post("/api/v1/auth/totp", json!({"code": wrong}))
                .await;
            statuses.push(status);
        }
        assert!(
            statuses[..9]
                .iter()
                .all(|s| *s == StatusCode::UNPROCESSABLE_ENTITY),
            "{statuses:?}"
        );
        assert!(
            statuses[9..]
                .iter()
                .all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
            "{statuses:?}"
        );
        // The right code is refused too until the wait is over.
        let (status, _) = pending
            .post("/api/v1/auth/totp", json!({"code": code(&secret, 0)}))
            .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        let actions = audit_actions(&admin, &format!("/api/v1/employees/{id}/audit-log")).await;
        assert!(
            actions
                .iter()
                .any(|a| a.starts_with("2FA locked for 15 minutes after 10 wrong codes")),
            "{actions:?}"
        );

        // Fifteen minutes later (moved back in the database) the right code works again.
        app.state
            .db
            .execute(
                "UPDATE login_attempts SET at = at - 960000000 WHERE email = $1",
                args![email],
            )
            .await
            .expect("age attempts");
        let (status, body) = pending
            .post("/api/v1/auth/totp", json!({"code": code(&secret, 0)}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
);

both!(
    administrators_enable_require_and_reset_2fa,
    |app: TestApp| async move {
        clear_of_step_boundary().await;
        let admin = app.admin_api().await;
        let email = "cy@accord.test";
        let (id, token) = app.employee(email, "Cy Required", false).await;
        let (cy_before, status) = Session::login(&app, email).await;
        assert_eq!(status, "ok");

        // Only administrators change another employee's 2FA; modes are checked.
        let cy_api = Api::new(&app.base, &token);
        let (status, _) = cy_api
            .post(
                &format!("/api/v1/employees/{id}/2fa"),
                json!({"mode": "off"}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, problem) = admin
            .post(
                &format!("/api/v1/employees/{id}/2fa"),
                json!({"mode": "on"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");

        let (status, body) = admin
            .post(
                &format!("/api/v1/employees/{id}/2fa"),
                json!({"mode": "required"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["mode"], "required");
        assert_eq!(body["enrolled"], json!(false));
        // An open session must enrol before anything else; a new login says so.
        assert_eq!(
            cy_before.get("/api/v1/me").await.0,
            StatusCode::UNAUTHORIZED
        );
        let (cy, status) = Session::login(&app, email).await;
        assert_eq!(status, "enrolment_required");
        assert_eq!(
            cy.get("/api/v1/customers").await.0,
            StatusCode::UNAUTHORIZED
        );
        let (status, location) = cy.page("/home").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(location.as_deref(), Some("/2fa/enrol"));
        let (secret, _) = enrol(&cy, email).await;
        let (status, _) = cy.get("/api/v1/me").await;
        assert_eq!(status, StatusCode::OK, "enrolling finishes the login");
        // Required: no disabling.
        let (status, problem) = cy
            .post("/api/v1/me/2fa/disable", json!({"code": code(&secret, 0)}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        let (_, me) = cy.get("/api/v1/me/2fa").await;
        assert_eq!(me["can_disable"], json!(false));

        // Enabled (not required): the user may turn it off with a current code.
        let (status, _) = admin
            .post(
                &format!("/api/v1/employees/{id}/2fa"),
                json!({"mode": "enabled"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = cy
            .post("/api/v1/me/2fa/disable", json!({"code": code(&secret, 0)}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["mode"], "off");
        assert_eq!(body["enrolled"], json!(false));
        let (_, status) = Session::login(&app, email).await;
        assert_eq!(status, "ok");

        // Reset (a lost phone): enrolled again, reset, asked to enrol at the next login.
        let (cy, _) = Session::login(&app, email).await;
        enrol(&cy, email).await;
        let (status, body) = admin
            .post(&format!("/api/v1/employees/{id}/2fa/reset"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["enrolled"], json!(false));
        let (_, status) = Session::login(&app, email).await;
        assert_eq!(status, "enrolment_required");

        let (_, employee) = admin.get(&format!("/api/v1/employees/{id}")).await;
        assert_eq!(employee["two_factor_mode"], "enabled");
        assert_eq!(employee["two_factor"], "Enabled · not set up");
        let actions = audit_actions(&admin, &format!("/api/v1/employees/{id}/audit-log")).await;
        for expected in [
            "2FA mode changed",
            "2FA reset",
            "2FA disabled",
            "2FA set up",
        ] {
            assert!(
                actions.iter().any(|a| a == expected),
                "{expected}: {actions:?}"
            );
        }
        let (_, log) = admin
            .get(&format!("/api/v1/employees/{id}/audit-log"))
            .await;
        let change = log["items"]
            .as_array()
            .and_then(|items| items.iter().find(|e| e["action"] == "2FA mode changed"))
            .expect("mode change");
        assert!(
            change["changes"]["two_factor"]["to"].is_string(),
            "{change}"
        );

        // The system default requires 2FA of every administrator: an admin's open session
        // is stopped until they enrol; their bearer token keeps working.
        let admin_email = "root@accord.test";
        app.employee(admin_email, "Root Admin", true).await;
        let (root, status) = Session::login(&app, admin_email).await;
        assert_eq!(status, "ok");
        let (status, body) = admin
            .patch(
                "/api/v1/settings/require_2fa_for_administrators",
                json!({"value": true}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(root.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
        let (_, status) = Session::login(&app, admin_email).await;
        assert_eq!(status, "enrolment_required");
        assert_eq!(admin.get("/api/v1/me").await.0, StatusCode::OK);
    }
);

both!(
    bulk_actions_on_the_employee_list_change_the_ticked_employees,
    |app: TestApp| async move {
        let admin_email = "lead@accord.test";
        app.employee(admin_email, "Lead Admin", true).await;
        let (a, _) = app.employee("dee@accord.test", "Dee Bulk", false).await;
        let (b, _) = app.employee("eve@accord.test", "Eve Bulk", false).await;
        let (c, _) = app.employee("fay@accord.test", "Fay Left", false).await;
        let browser = app.browser_login(admin_email, PASSWORD).await;
        let (_, list) = browser.get("/employees").await;
        assert!(
            list.contains("<td>Off</td>"),
            "the 2FA column shows who has none"
        );
        assert!(list.contains("name=\"ids\""), "tick boxes");
        let csrf = Browser::csrf_in(&list);
        let resp = browser
            .client
            .post(app.url("/employees/bulk/2fa/required"))
            .form(&[
                ("_csrf", csrf.as_str()),
                ("ids", &a.to_string()),
                ("ids", &b.to_string()),
            ])
            .send()
            .await
            .expect("bulk");
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let (_, list) = browser.get("/employees").await;
        assert!(list.contains("changed 2 of 2 ticked employees"), "flash");
        assert_eq!(
            list.matches("Required · not set up").count(),
            2,
            "two rows required"
        );
        let (_, page) = browser.get(&format!("/employees/{c}")).await;
        assert!(page.contains("Two-factor authentication"));
        assert!(page.contains(&format!("/employees/{c}/2fa/required")));
        let (status, _, _) = browser
            .submit(
                &format!("/employees/{c}"),
                &format!("/employees/{c}/2fa/enabled"),
                &[],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (_, page) = browser.get(&format!("/employees/{c}")).await;
        assert!(
            page.contains("Enabled · not set up"),
            "employee page shows the mode"
        );
    }
);

/// The venv Python that scripts/test installs pyotp into.
fn python() -> String {
    std::env::var("ACCORD_VENV")
        .map(|v| format!("{v}/bin/python"))
        .unwrap_or_else(|_| format!("{}/../../.venv/bin/python", env!("CARGO_MANIFEST_DIR")))
}

/// A code from pyotp, an authenticator implementation no one here wrote, `offset_secs` from now.
fn pyotp_code(secret: &str, offset_secs: i64) -> String {
    let out = std::process::Command::new(python())
        .args([
            "-c",
            "import sys, time, pyotp; print(pyotp.TOTP(sys.argv[1]).at(time.time() + int(sys.argv[2])))",
            secret,
            &offset_secs.to_string(),
        ])
        .output()
        .unwrap_or_else(|e| panic!("pyotp is needed (scripts/test installs it in .venv): {e}"));
    assert!(
        out.status.success(),
        "pyotp failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The text between `start` and the next `end` in a page.
fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html.find(start).map(|i| i + start.len()).expect(start);
    let rest = &html[from..];
    &rest[..rest.find(end).expect(end)]
}

both!(
    codes_from_pyotp_enrol_and_log_in_through_the_pages,
    |app: TestApp| async move {
        clear_of_step_boundary().await;
        let admin = app.admin_api().await;
        let customer = admin
            .create(
                "/api/v1/customers",
                json!({"name": "Pyotp Ltd", "email_domains": ["pyotp.test"]}),
            )
            .await;
        // A portal contact, since everything works for them as for employees.
        let contact = admin
            .create(
                "/api/v1/contacts",
                json!({"name": "Pat Portal", "customer_id": customer, "email": "pat@pyotp.test", "portal_access": true}),
            )
            .await;
        let hash = accord::kernel::auth::hash_password(PASSWORD)
            .await
            .expect("hash");
        accord::auth::invitations::set_password_hash(&app.state.db, "contact", contact, &hash)
            .await
            .expect("password");

        let pat = app.browser_login("pat@pyotp.test", PASSWORD).await;
        let (_, portal) = pat.get("/portal").await;
        assert!(portal.contains("Enable 2FA"), "the portal offers 2FA");
        let (status, enrol_page) = pat.get("/2fa/enrol").await;
        assert_eq!(status, StatusCode::OK);
        assert!(enrol_page.contains("<svg"), "a QR code is shown");
        let secret = between(&enrol_page, "id=\"secret\">", "<").replace(' ', "");
        let uri = between(&enrol_page, "id=\"otpauth-uri\">", "<").replace("&amp;", "&");
        assert!(
            uri.starts_with("otpauth://totp/Accord:pat@pyotp.test?secret="),
            "{uri}"
        );

        let (status, codes_page, _) = pat
            .submit(
                "/2fa/enrol",
                "/2fa/enrol",
                &[("code", &pyotp_code(&secret, 0))],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{codes_page}");
        assert_eq!(
            codes_page.matches("<li><code>").count(),
            10,
            "ten recovery codes"
        );
        assert!(codes_page.contains("download=\"accord-recovery-codes.txt\""));

        // Log out; the password now leads to the code page, and pyotp's next code opens it.
        let (status, _, _) = pat.submit("/portal", "/logout", &[]).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (status, _) = pat.login("pat@pyotp.test", PASSWORD).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (status, _) = pat.get("/portal").await;
        assert_eq!(status, StatusCode::SEE_OTHER, "no portal before the code");
        let (status, page, _) = pat
            .submit("/login/2fa", "/login/2fa", &[("code", "000000x")])
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.contains("role=\"alert\""), "the refusal is explained");
        let (status, _, location) = pat
            .submit(
                "/login/2fa",
                "/login/2fa",
                &[("code", &pyotp_code(&secret, 30))],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(location.as_deref(), Some("/portal"));
        let (status, portal) = pat.get("/portal").await;
        assert_eq!(status, StatusCode::OK);
        assert!(portal.contains("recovery codes left"), "2FA shows as on");

        let actions = audit_actions(&admin, &format!("/api/v1/contacts/{contact}/audit-log")).await;
        assert!(actions.iter().any(|a| a == "2FA set up"), "{actions:?}");

        // Phone and recovery codes lost: an administrator resets it; the next login enrols.
        let (status, body) = admin
            .post(&format!("/api/v1/contacts/{contact}/2fa/reset"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let again = Browser::new(&app.base);
        let (status, _) = again.login("pat@pyotp.test", PASSWORD).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (status, _) = again.get("/portal").await;
        assert_eq!(status, StatusCode::SEE_OTHER, "set-up comes first");
        let (status, page) = again.get("/2fa/enrol").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("asks you to turn on"), "the reason is given");
        let actions = audit_actions(&admin, &format!("/api/v1/contacts/{contact}/audit-log")).await;
        assert!(actions.iter().any(|a| a == "2FA reset"), "{actions:?}");
    }
);

both!(
    parallel_guesses_share_one_limit,
    |app: TestApp| async move {
        clear_of_step_boundary().await;
        let email = "par@accord.test";
        app.employee(email, "Par Allel", false).await;
        let (p, _) = Session::login(&app, email).await;
        let (secret, _) = enrol(&p, email).await;
        let (pending, _) = Session::login(&app, email).await;
        let wrong = wrong_code(&secret);
        let pending = std::sync::Arc::new(pending);
        let mut tasks = Vec::new();
        for _ in 0..30 {
            let s = pending.clone();
            let code = wrong.clone();
            tasks.push(tokio::spawn(async move {
                s.post("/api/v1/auth/totp", json!({"code": code})).await.0
            }));
        }
        let mut checked = 0;
        for t in tasks {
            if t.await.expect("task") == StatusCode::UNPROCESSABLE_ENTITY {
                checked += 1;
            }
        }
        // One wrong code was spent enrolling: at most nine more are checked, at once or not.
        assert!(checked <= 9, "{checked} guesses were checked");
    }
);

both!(
    the_json_login_skips_csrf_only_for_real_json,
    |app: TestApp| async move {
        let email = "csrf@accord.test";
        app.employee(email, "Cee Surf", false).await;
        let (session, _) = Session::login(&app, email).await;
        // With a session cookie, a body a cross-site form could send is not a JSON login.
        let resp = session
            .client
            .post(app.url("/api/v1/auth/login"))
            .header("Content-Type", "text/plain; x=+json")
            .body(format!(
                "{{\"email\": \"{email}\", \"password\": \"{PASSWORD}\"}}"
            ))
            .send()
            .await
            .expect("post");
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        let resp = session
            .client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("post");
        assert_eq!(resp.status(), StatusCode::OK);
    }
);
