//! The REST API against a real running server, on SQLite and on PostgreSQL.

mod common;

use common::{Api, Browser, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .unwrap_or_default()
        .trim_start_matches('=')
        .to_owned()
}

fn problem_fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(|x| x["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

both!(
    customers_are_created_changed_archived_and_audited,
    |app: TestApp| async move {
        let api = app.admin_api().await;
        let (status, created) = api
        .post("/api/v1/customers", json!({"name": "Acme Corporation", "email_domains": ["Acme.example", "@acme.co.uk"]}))
        .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(
            created["email_domains"],
            json!(["acme.co.uk", "acme.example"])
        );
        let id = created["id"].as_i64().expect("id");

        let (status, list) = api.get("/api/v1/customers?search=acme").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list["total"], 1);
        assert_eq!(list["items"][0]["name"], "Acme Corporation");
        // Domains are searchable too.
        let (_, by_domain) = api.get("/api/v1/customers?search=acme.co.uk").await;
        assert_eq!(by_domain["total"], 1);

        let (status, changed) = api
            .patch(
                &format!("/api/v1/customers/{id}"),
                json!({"name": "Acme Ltd"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{changed}");
        assert_eq!(changed["name"], "Acme Ltd");
        assert_eq!(
            changed["email_domains"],
            json!(["acme.co.uk", "acme.example"]),
            "a PATCH keeps other fields"
        );

        let (status, log) = api.get(&format!("/api/v1/customers/{id}/audit-log")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(log["total"], 2);
        assert_eq!(log["items"][0]["action"], "updated");
        assert_eq!(
            log["items"][0]["changes"]["name"],
            json!({"from": "Acme Corporation", "to": "Acme Ltd"})
        );
        assert_eq!(log["items"][0]["actor_name"], "Ada Admin");
        assert_eq!(log["items"][1]["action"], "created");

        let (status, archived) = api
            .post(&format!("/api/v1/customers/{id}/archive"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(archived["archived"], true);
        let (_, list) = api.get("/api/v1/customers").await;
        assert_eq!(list["total"], 0, "archived customers leave the list");
        let (_, list) = api.get("/api/v1/customers?archived=true").await;
        assert_eq!(list["total"], 1, "but are kept");
        let (status, _) = api
            .patch(&format!("/api/v1/customers/{id}"), json!({"name": "X"}))
            .await;
        assert_eq!(
            status,
            StatusCode::CONFLICT,
            "an archived object cannot be changed"
        );
        let (status, restored) = api
            .post(&format!("/api/v1/customers/{id}/restore"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(restored["archived"], false);
        let (_, list) = api.get("/api/v1/customers").await;
        assert_eq!(
            list["total"], 1,
            "the kept count follows archive and restore"
        );
        // Search: substrings (indexed for three or more characters), short terms, quotes.
        api.create(
            "/api/v1/customers",
            json!({"name": "O'Brien \"Quoted\" & Sons"}),
        )
        .await;
        for (term, expected) in [
            ("cme l", 1),
            ("ac", 1),
            ("\"quoted\"", 1),
            ("o'b", 1),
            ("zzz", 0),
            ("ACME", 1),
        ] {
            let (status, found) = api
                .get(&format!("/api/v1/customers?search={}", urlencode(term)))
                .await;
            assert_eq!(status, StatusCode::OK, "{term}");
            assert_eq!(found["total"], expected, "search {term:?}: {found}");
        }
        let (_, list) = api.get("/api/v1/customers").await;
        assert_eq!(list["total"], 2);
        let (_, log) = api.get(&format!("/api/v1/customers/{id}/audit-log")).await;
        let actions: Vec<&str> = log["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|e| e["action"].as_str())
            .collect();
        assert_eq!(actions, ["restored", "archived", "updated", "created"]);
    }
);

both!(
    bad_input_is_a_problem_document_and_changes_nothing,
    |app: TestApp| async move {
        let api = app.admin_api().await;
        let (status, body) = api
        .post("/api/v1/customers", json!({"name": "", "email_domains": ["not a domain"], "colour": "red", "legal_entity_id": "x"}))
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["status"], 422);
        let fields = problem_fields(&body);
        for f in ["name", "email_domains", "colour", "legal_entity_id"] {
            assert!(fields.contains(&f.to_owned()), "{f} missing in {body}");
        }
        let (_, list) = api.get("/api/v1/customers").await;
        assert_eq!(list["total"], 0);

        // Over-long text.
        let (status, body) = api
            .post("/api/v1/customers", json!({"name": "x".repeat(201)}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem_fields(&body), ["name"]);

        // Malformed JSON, a non-object, and a missing content type.
        let resp = api
            .client
            .post(format!("{}/api/v1/customers", api.base))
            .bearer_auth(&api.token)
            .header("content-type", "application/json")
            .body("{\"name\": ")
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
        let (status, _) = api.post("/api/v1/customers", json!([1, 2])).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let resp = api
            .client
            .post(format!("{}/api/v1/customers", api.base))
            .bearer_auth(&api.token)
            .body("name=x")
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

        // Unknown ids and paths.
        for path in [
            "/api/v1/customers/999999",
            "/api/v1/customers/abc",
            "/api/v1/customers/-1",
            "/api/v1/nothing-here",
        ] {
            let (status, body) = api.get(path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            assert_eq!(body["status"], 404, "{path}");
        }
        let (status, _) = api
            .patch("/api/v1/customers/999999", json!({"name": "Y"}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Bad list parameters.
        for q in [
            "per_page=1000",
            "page=0",
            "sort=colour",
            "page=x",
            "archived=maybe",
        ] {
            let (status, _) = api.get(&format!("/api/v1/customers?{q}")).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{q}");
        }
    }
);

both!(the_api_needs_a_valid_token, |app: TestApp| async move {
    let anonymous = Api::new(&app.base, "");
    let (status, body) = anonymous.get("/api/v1/customers").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["status"], 401);
    let forged = Api::new(&app.base, "acc_forged");
    assert_eq!(forged.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    let (status, _) = anonymous
        .post("/api/v1/customers", json!({"name": "X"}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let api = app.admin_api().await;
    let (status, me) = api.get("/api/v1/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["is_admin"], true);
    // Revoked tokens stop working at once.
    app.state
        .db
        .execute("UPDATE api_tokens SET revoked_at = 1", vec![])
        .await
        .expect("revoke");
    assert_eq!(api.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
});

both!(money_is_exact_decimal_strings, |app: TestApp| async move {
    let api = app.admin_api().await;
    let (status, p) = api
        .post(
            "/api/v1/products",
            json!({"name": "Laptop", "sku": "HW-1", "unit_cost": "800", "unit_price": "1099.9"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    assert_eq!(p["unit_cost"], "800.00");
    assert_eq!(p["unit_price"], "1099.90");
    let (status, body) = api
        .post(
            "/api/v1/products",
            json!({"name": "Float", "unit_price": 12.5}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_fields(&body), ["unit_price"]);
    let (status, _) = api
        .post(
            "/api/v1/products",
            json!({"name": "Sub-cent", "unit_price": "0.001"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = api
        .post(
            "/api/v1/products",
            json!({"name": "Dup", "sku": "HW-1", "unit_price": "1"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(problem_fields(&body), ["sku"]);

    let (status, le) = api
        .post("/api/v1/legal-entities", json!({"name": "Accord GmbH", "currency": "eur", "tax_rate": "19", "calculate_sale_price_using": "gross_margin"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{le}");
    assert_eq!(le["currency"], "EUR");
    assert_eq!(le["tax_rate"], "19.00");
    assert_eq!(le["calculate_sale_price_using"], "gross_margin");
    let (status, _) = api
        .post(
            "/api/v1/legal-entities",
            json!({"name": "Bad", "currency": "EUR", "calculate_sale_price_using": "margin"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
});

both!(paging_sorting_and_totals, |app: TestApp| async move {
    let api = app.admin_api().await;
    for name in [
        "Echo", "alpha", "Delta", "charlie", "Bravo", "foxtrot", "Golf",
    ] {
        api.create(
            "/api/v1/products",
            json!({"name": name, "unit_price": "1.00"}),
        )
        .await;
    }
    let (_, page) = api.get("/api/v1/products?per_page=3&page=3").await;
    assert_eq!(page["total"], 7);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["items"][0]["name"], "Golf");
    let (_, page) = api.get("/api/v1/products?per_page=2&sort=-name").await;
    let names: Vec<&str> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["name"].as_str())
        .collect();
    assert_eq!(names, ["Golf", "foxtrot"], "sorting ignores case");
    let (_, page) = api.get("/api/v1/products?search=ALPHA").await;
    assert_eq!(page["total"], 1);
    // LIKE wildcards in the search are literal.
    let (_, page) = api.get("/api/v1/products?search=%25").await;
    assert_eq!(page["total"], 0);
});

both!(
    customer_rules_that_need_the_database,
    |app: TestApp| async move {
        let api = app.admin_api().await;
        let acme = api
            .create(
                "/api/v1/customers",
                json!({"name": "Acme", "email_domains": ["acme.example"]}),
            )
            .await;
        let (status, body) = api
            .post(
                "/api/v1/customers",
                json!({"name": "Copycat", "email_domains": ["ACME.example"]}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            body.to_string().contains("already belongs to Acme"),
            "{body}"
        );

        let globex = api
            .create("/api/v1/customers", json!({"name": "Globex"}))
            .await;
        let hank = api
            .create(
                "/api/v1/contacts",
                json!({"customer_id": globex, "name": "Hank"}),
            )
            .await;
        let (status, body) = api
            .patch(
                &format!("/api/v1/customers/{acme}"),
                json!({"invoice_contact_id": hank}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "another customer's contact: {body}"
        );
        let jane = api
            .create(
                "/api/v1/contacts",
                json!({"customer_id": acme, "name": "Jane", "email": "jane@acme.example"}),
            )
            .await;
        let (status, body) = api
            .patch(
                &format!("/api/v1/customers/{acme}"),
                json!({"invoice_contact_id": jane}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["invoice_contact_name"], "Jane");
        assert_eq!(body["contact_count"], 1);
        let (status, _) = api
            .post(
                "/api/v1/customers",
                json!({"name": "X", "legal_entity_id": 424242}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (_, contacts) = api
            .get(&format!("/api/v1/contacts?customer_id={acme}"))
            .await;
        assert_eq!(contacts["total"], 1);
        let (status, _) = api
            .post(
                "/api/v1/contacts",
                json!({"customer_id": 999999, "name": "Ghost"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
);

both!(
    employees_rules_and_admin_only_writes,
    |app: TestApp| async move {
        let api = app.admin_api().await;
        let (boss, _) = app.employee("boss@accord.test", "Boss", false).await;
        let (status, worker) = api
            .post(
                "/api/v1/employees",
                json!({"name": "Worker", "email": "Worker@Accord.test", "line_manager_id": boss}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{worker}");
        assert_eq!(worker["email"], "worker@accord.test");
        assert!(
            worker["invitation_url"]
                .as_str()
                .is_some_and(|u| u.contains("/invite/")),
            "{worker}"
        );
        let worker_id = worker["id"].as_i64().expect("id");
        let (status, body) = api
            .patch(
                &format!("/api/v1/employees/{boss}"),
                json!({"line_manager_id": worker_id}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "a management loop: {body}"
        );
        assert_eq!(problem_fields(&body), ["line_manager_id"]);
        let (status, _) = api
            .post(
                "/api/v1/employees",
                json!({"name": "Twin", "email": "worker@accord.test"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "e-mail taken");

        // A non-admin reads but cannot change employees, legal entities or settings.
        let (_, token) = app.employee("plain@accord.test", "Plain", false).await;
        let plain = Api::new(&app.base, &token);
        assert_eq!(plain.get("/api/v1/employees").await.0, StatusCode::OK);
        let (status, _) = plain
            .post(
                "/api/v1/employees",
                json!({"name": "Sneaky", "email": "s@accord.test", "is_admin": true}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = plain
            .post(
                "/api/v1/legal-entities",
                json!({"name": "X", "currency": "GBP"}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = plain
            .patch("/api/v1/settings/company_name", json!({"value": "Mine"}))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // But may manage customers.
        plain
            .create("/api/v1/customers", json!({"name": "Allowed"}))
            .await;
        let (_, employees) = api.get("/api/v1/employees").await;
        assert_eq!(employees["total"], 4);
    }
);

both!(
    the_last_administrator_stays_an_administrator,
    |app: TestApp| async move {
        let (id, token) = app.employee("only@accord.test", "Only Admin", true).await;
        let api = Api::new(&app.base, &token);
        let (status, body) = api
            .patch(
                &format!("/api/v1/employees/{id}"),
                json!({"is_admin": false}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(problem_fields(&body), ["is_admin"]);
    }
);

both!(posts_with_tags_on_any_object, |app: TestApp| async move {
    let api = app.admin_api().await;
    let (ben, _) = app.employee("ben@accord.test", "Ben", false).await;
    let customer = api
        .create("/api/v1/customers", json!({"name": "Acme"}))
        .await;
    let (status, post) = api
        .post(
            &format!("/api/v1/customers/{customer}/posts"),
            json!({"body": "Called them about the renewal.", "tagged_employee_ids": [ben]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{post}");
    assert_eq!(post["tagged_employee_ids"], json!([ben]));
    assert_eq!(post["author_name"], "Ada Admin");
    let (_, posts) = api
        .get(&format!("/api/v1/customers/{customer}/posts"))
        .await;
    assert_eq!(posts["total"], 1);
    assert_eq!(posts["items"][0]["body"], "Called them about the renewal.");

    let (status, _) = api
        .post(
            &format!("/api/v1/customers/{customer}/posts"),
            json!({"body": "x", "tagged_employee_ids": [999]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = api
        .post(
            &format!("/api/v1/customers/{customer}/posts"),
            json!({"body": "  "}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = api
        .post("/api/v1/customers/999999/posts", json!({"body": "lost"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, posts) = api
        .get(&format!("/api/v1/customers/{customer}/posts"))
        .await;
    assert_eq!(posts["total"], 1, "failed posts left nothing behind");

    for object_type in accord::OBJECT_TYPES {
        let (status, _) = api.get(&format!("/api/v1/{object_type}/1/audit-log")).await;
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{object_type}");
    }
});

both!(
    settings_are_typed_with_defaults,
    |app: TestApp| async move {
        let api = app.admin_api().await;
        let (status, list) = api.get("/api/v1/settings").await;
        assert_eq!(status, StatusCode::OK);
        let by = list["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|s| s["key"] == "quick_create_invoice_by")
            .cloned()
            .expect("setting");
        assert_eq!(by["value"], "per_contract");
        assert_eq!(by["is_default"], true);
        assert_eq!(by["label"], "Quick Create Invoice By");
        let id = by["id"].as_i64().expect("id");

        let (status, body) = api
            .patch(
                &format!("/api/v1/settings/{id}"),
                json!({"value": "per_customer"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (status, set) = api
            .post(
                "/api/v1/settings",
                json!({"key": "quick_create_invoice_by", "value": "per_sales_order"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{set}");
        assert_eq!(set["value"], "per_sales_order");
        let (status, _) = api
            .post(
                "/api/v1/settings",
                json!({"key": "quick_create_invoice_by", "value": "per_contract"}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, set) = api
            .patch(
                "/api/v1/settings/auto_generate_invoices_from_schedules",
                json!({"value": true}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{set}");
        assert_eq!(set["value"], true);
        let (status, _) = api
            .patch("/api/v1/settings/default_page_size", json!({"value": "50"}))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "a number must be a number"
        );

        let (status, reset) = api
            .post(&format!("/api/v1/settings/{id}/archive"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(reset["value"], "per_contract");
        assert_eq!(reset["is_default"], true);
        let (_, log) = api.get(&format!("/api/v1/settings/{id}/audit-log")).await;
        assert_eq!(log["total"], 2);
        assert_eq!(log["items"][0]["action"], "reset to default");
    }
);

both!(
    portal_contacts_see_only_their_customer,
    |app: TestApp| async move {
        let api = app.admin_api().await;
        let acme = api
            .create("/api/v1/customers", json!({"name": "Acme"}))
            .await;
        let globex = api
            .create("/api/v1/customers", json!({"name": "Globex"}))
            .await;
        let hank = api
            .create(
                "/api/v1/contacts",
                json!({"customer_id": globex, "name": "Hank Scorpio"}),
            )
            .await;
        let (status, jane) = api
        .post("/api/v1/contacts", json!({"customer_id": acme, "name": "Jane", "email": "jane@acme.example", "portal_access": true}))
        .await;
        assert_eq!(status, StatusCode::CREATED, "{jane}");
        // One login page for all: a portal login may not reuse an employee's e-mail.
        app.employee("jane2@acme.example", "Jane Two", false).await;
        let (status, body) = api
            .post(
                "/api/v1/contacts",
                json!({"customer_id": acme, "name": "Jane Two", "email": "jane2@acme.example", "portal_access": true}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(problem_fields(&body), ["email"]);
        let invite = jane["invitation_url"]
            .as_str()
            .expect("invitation")
            .to_owned();
        let invite_path = invite.trim_start_matches(&app.base).to_owned();

        // The contact sets a password through the invitation link, once.
        let guest = Browser::new(&app.base);
        let (status, html, _) = guest
            .submit(
                &invite_path,
                &invite_path,
                &[
                    ("password", "portal password 1"),
                    ("password_again", "portal password 1"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(html.contains("Your password is set"));
        let (status, _) = guest.get(&invite_path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "an invitation works once");

        let portal = app
            .browser_login("jane@acme.example", "portal password 1")
            .await;
        let (status, html) = portal.get("/portal").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Acme") && !html.contains("Globex"));
        let (status, _) = portal.get(&format!("/portal/contacts/{hank}")).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "another customer's contact is not found"
        );
        let (status, html) = portal.get("/customers").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(html.contains("for employees"));
        let (status, _) = portal.get("/api/v1/customers").await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // Turning portal access off ends the contact's sessions.
        let jane_id = jane["id"].as_i64().expect("id");
        let (status, _) = api
            .patch(
                &format!("/api/v1/contacts/{jane_id}"),
                json!({"portal_access": false}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = portal.get("/portal").await;
        assert_eq!(status, StatusCode::SEE_OTHER, "logged out");
    }
);

both!(sessions_csrf_and_login_limits, |app: TestApp| async move {
    app.employee("eve@accord.test", "Eve", false).await;
    let browser = app
        .browser_login("eve@accord.test", "a long test password")
        .await;
    let (status, html) = browser.get("/customers").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Customers"));

    // A form without the CSRF token is refused and creates nothing.
    let resp = browser
        .client
        .post(format!("{}/customers", app.base))
        .form(&[("name", "Forged")])
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let (status, _, location) = browser
        .submit(
            "/customers/new",
            "/customers",
            &[
                ("name", "Real"),
                ("email_domains", "real.example\nreal.co.uk"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = location.expect("redirect to the new customer");
    let (_, html) = browser.get(&location).await;
    assert!(html.contains("real.co.uk, real.example"), "{html}");
    assert!(html.contains("Customer created."));
    let count = app
        .state
        .db
        .fetch_i64("SELECT COUNT(*) FROM customers", vec![])
        .await
        .expect("count");
    assert_eq!(count, Some(1));

    // A second instance on the same database (a restart, or scale-out) knows the session.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let second = accord::prepare(app.state.config.as_ref().clone())
        .await
        .expect("prepare");
    tokio::spawn(accord::serve(second, listener, std::future::pending()));
    let cookie_holder = Browser {
        base: format!("http://{addr}"),
        client: browser.client.clone(),
    };
    let (status, _) = cookie_holder.get("/customers").await;
    assert_eq!(status, StatusCode::OK, "the session lives in the database");

    // Log out: the session is gone.
    let (status, _, _) = browser.submit("/customers", "/logout", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(browser.get("/customers").await.0, StatusCode::SEE_OTHER);

    // Five wrong passwords lock the account for a while, even for the right password.
    let attacker = Browser::new(&app.base);
    for _ in 0..5 {
        let (status, _) = attacker.login("eve@accord.test", "wrong password!").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, html) = attacker
        .login("eve@accord.test", "a long test password")
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(html.contains("Too many failed attempts"));
    let failures = app
        .state
        .db
        .fetch_i64(
            "SELECT COUNT(*) FROM login_attempts WHERE NOT succeeded",
            vec![],
        )
        .await
        .expect("count");
    assert_eq!(failures, Some(5), "failures are logged");
});

both!(
    html_forms_validate_and_keep_input,
    |app: TestApp| async move {
        app.employee("fay@accord.test", "Fay", true).await;
        let browser = app
            .browser_login("fay@accord.test", "a long test password")
            .await;
        let (status, html, _) = browser
            .submit(
                "/customers/new",
                "/customers",
                &[
                    ("name", ""),
                    ("email_domains", "good.example\nnot a domain"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("Name is required"));
        assert!(html.contains("is not a domain"));
        assert!(
            html.contains("good.example"),
            "what was typed stays in the form"
        );
        let (status, html, _) = browser
            .submit(
                "/products/new",
                "/products",
                &[("name", "Thing"), ("unit_price", "12.345")],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("is not an amount like 12.50"));
        let count = app
            .state
            .db
            .fetch_i64("SELECT COUNT(*) FROM customers", vec![])
            .await
            .expect("count");
        assert_eq!(count, Some(0));
        // Pages of every object type render.
        for path in [
            "/home",
            "/customers",
            "/contacts",
            "/employees",
            "/products",
            "/legal-entities",
            "/setup/defaults",
            "/profile",
            "/search?q=fay",
            "/employees/1?tab=audit",
            "/employees/1?tab=activity",
        ] {
            let (status, html) = browser.get(path).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert!(html.contains("User profile"), "{path} has the shell");
        }
        // CSV export of the list as filtered.
        let (_, _, _) = browser
            .submit(
                "/customers/new",
                "/customers",
                &[
                    ("name", "=Formula, \"Quoted\""),
                    ("email_domains", "csv.example"),
                ],
            )
            .await;
        let (status, csv) = browser.get("/customers/export.csv?search=formula").await;
        assert_eq!(status, StatusCode::OK);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "id,Name,E-mail domains,Legal entity,Invoice contact,Contacts"
        );
        assert_eq!(lines.len(), 2, "{csv}");
        assert!(
            lines[1].ends_with(",\"'=Formula, \"\"Quoted\"\"\",csv.example,—,—,0"),
            "{csv}"
        );
        // Archive and restore from the page, each with its message.
        let id: i64 = lines[1]
            .split(',')
            .next()
            .and_then(|v| v.parse().ok())
            .expect("id");
        let page = format!("/customers/{id}");
        let (status, _, location) = browser.submit(&page, &format!("{page}/archive"), &[]).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (_, html) = browser.get(&location.expect("back to the customer")).await;
        assert!(html.contains("Customer archived: it no longer shows in lists."));
        assert!(html.contains("Restore"));
        let (status, _, _) = browser.submit(&page, &format!("{page}/restore"), &[]).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (_, html) = browser.get(&page).await;
        assert!(html.contains("Customer restored."));
        let (status, _) = browser.get("/customers/424242").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
);
