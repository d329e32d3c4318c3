//! The service desk through a real server on both databases: ticket types with default
//! checklists, workflow rules refusing a move (409 naming the open items), checklist
//! changes, list filters and saved views, SLA due times and the breach scan.

mod common;

use common::{Api, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A workflow, a template, a type using both, and a customer; returns (type id, customer id).
async fn service_desk(api: &Api) -> (i64, i64) {
    let workflow = api
        .create(
            "/api/v1/workflows",
            json!({
                "name": "Desk",
                "statuses": ["New", "In Progress", "Resolved", "Closed"],
                "start_status": "New",
                "closed_statuses": ["Resolved", "Closed"],
                "transitions": ["New -> In Progress", "In Progress -> Resolved: checklists complete", "Resolved -> Closed"]
            }),
        )
        .await;
    let template = api
        .create(
            "/api/v1/checklist-templates",
            json!({"name": "Go-live", "items": ["Backup", "Test restore", "Tell the customer"]}),
        )
        .await;
    let ticket_type = api
        .create(
            "/api/v1/ticket-types",
            json!({"name": "Change", "default_priority": "high", "workflow_id": workflow,
                "default_checklist_template_ids": [template]}),
        )
        .await;
    let customer = api
        .create("/api/v1/customers", json!({"name": "Initrode"}))
        .await;
    (ticket_type, customer)
}

/// Every minute of every day counts (UTC), so due times are simple to check; `priority`
/// gets these targets in minutes.
async fn round_the_clock_sla(api: &Api, priority: &str, response: i64, resolution: i64) {
    for (key, value) in [
        ("sla_working_days".to_owned(), json!("mon-sun")),
        ("sla_working_hours".to_owned(), json!("00:00-23:59")),
        ("sla_time_zone".to_owned(), json!("UTC")),
        (format!("sla_{priority}_response_minutes"), json!(response)),
        (
            format!("sla_{priority}_resolution_minutes"),
            json!(resolution),
        ),
    ] {
        let (status, body) = api
            .patch(&format!("/api/v1/settings/{key}"), json!({"value": value}))
            .await;
        assert_eq!(status, StatusCode::OK, "{key}: {body}");
    }
}

async fn checklists(api: &Api, ticket: i64) -> Vec<Value> {
    let (status, body) = api
        .get(&format!("/api/v1/tickets/{ticket}/checklists"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().cloned().unwrap_or_default()
}

both!(
    checklists_must_be_complete_before_resolving,
    |app: TestApp| async move {
        let api = app.admin_api().await;
        let (ticket_type, customer) = service_desk(&api).await;
        let ticket = api
            .create(
                "/api/v1/tickets",
                json!({"summary": "Move the mail server", "customer_id": customer, "ticket_type_id": ticket_type}),
            )
            .await;
        let (_, t) = api.get(&format!("/api/v1/tickets/{ticket}")).await;
        assert_eq!(
            t["status"], "New",
            "tickets start at the workflow's start status"
        );
        assert_eq!(t["priority"], "high", "the type's default priority");
        assert_eq!(
            t["checklist_progress"], "0/3",
            "the type's default checklist was added"
        );
        assert!(
            t["resolution_due_at"]
                .as_str()
                .is_some_and(|s| s.ends_with('Z'))
        );

        // A move the workflow does not have is refused, as is a status it does not know.
        let (status, problem) = api
            .patch(
                &format!("/api/v1/tickets/{ticket}"),
                json!({"status": "Closed"}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or("")
                .contains("it can move to: In Progress"),
            "{problem}"
        );
        let (status, _) = api
            .patch(
                &format!("/api/v1/tickets/{ticket}"),
                json!({"status": "Done"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

        let (status, body) = api
            .patch(
                &format!("/api/v1/tickets/{ticket}"),
                json!({"status": "In Progress"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(
            body["responded_at"].is_string(),
            "leaving the start status is the first response"
        );

        // Open items block "Resolved" and are named.
        let (status, problem) = api
            .patch(
                &format!("/api/v1/tickets/{ticket}"),
                json!({"status": "Resolved"}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        let detail = problem["detail"].as_str().unwrap_or("");
        for item in [
            "Go-live › Backup",
            "Go-live › Test restore",
            "Go-live › Tell the customer",
        ] {
            assert!(detail.contains(item), "{detail} names {item}");
        }
        let (_, t) = api.get(&format!("/api/v1/tickets/{ticket}")).await;
        assert_eq!(t["status"], "In Progress", "nothing changed");

        let lists = checklists(&api, ticket).await;
        let list = &lists[0];
        let cid = list["id"].as_i64().expect("checklist id");
        for item in list["items"].as_array().expect("items") {
            let iid = item["id"].as_i64().expect("item id");
            let (status, body) = api
                .patch(
                    &format!("/api/v1/tickets/{ticket}/checklists/{cid}/items/{iid}"),
                    json!({"done": true}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        let lists = checklists(&api, ticket).await;
        assert_eq!(lists[0]["progress"], "3/3");
        assert_eq!(
            lists[0]["items"][0]["done_by_name"], "Ada Admin",
            "who ticked it is kept"
        );
        assert!(lists[0]["items"][0]["done_at"].is_string());

        let (status, body) = api
            .patch(
                &format!("/api/v1/tickets/{ticket}"),
                json!({"status": "Resolved"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["is_closed"], json!(true));
        assert!(body["closed_at"].is_string());

        let (_, log) = api
            .get(&format!("/api/v1/tickets/{ticket}/audit-log"))
            .await;
        let actions: Vec<&str> = log["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|e| e["action"].as_str())
            .collect();
        assert!(actions.contains(&"checklist item changed"), "{actions:?}");
        assert!(
            actions.contains(&"updated"),
            "status changes are audited: {actions:?}"
        );
    }
);

both!(
    checklists_are_added_edited_moved_and_removed,
    |app: TestApp| async move {
        let api = app.admin_api().await;
        let (ticket_type, customer) = service_desk(&api).await;
        let ticket = api
            .create(
                "/api/v1/tickets",
                json!({"summary": "Office move", "customer_id": customer, "ticket_type_id": ticket_type, "priority": "low"}),
            )
            .await;
        let (status, adhoc) = api
            .post(
                &format!("/api/v1/tickets/{ticket}/checklists"),
                json!({"name": "Move day", "items": ["Label desks", "Book the van"]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{adhoc}");
        assert_eq!(adhoc["progress"], "0/2");
        let cid = adhoc["id"].as_i64().expect("id");
        let (status, problem) = api
            .post(
                &format!("/api/v1/tickets/{ticket}/checklists"),
                json!({"template_id": 1, "name": "both"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        let (status, _) = api
            .post(
                &format!("/api/v1/tickets/{ticket}/checklists"),
                json!({"template_id": 9999}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

        let (status, list) = api
            .post(
                &format!("/api/v1/tickets/{ticket}/checklists/{cid}/items"),
                json!({"text": "Update the address"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{list}");
        let items = list["items"].as_array().expect("items").clone();
        assert_eq!(items.len(), 3);
        let last = items[2]["id"].as_i64().expect("id");
        let first = items[0]["id"].as_i64().expect("id");
        let (_, list) = api
            .patch(
                &format!("/api/v1/tickets/{ticket}/checklists/{cid}/items/{last}"),
                json!({"move": "up", "text": "Update the postal address"}),
            )
            .await;
        let texts: Vec<&str> = list["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|i| i["text"].as_str())
            .collect();
        assert_eq!(
            texts,
            ["Label desks", "Update the postal address", "Book the van"]
        );
        let (status, list) = api
            .send(
                reqwest::Method::DELETE,
                &format!("/api/v1/tickets/{ticket}/checklists/{cid}/items/{first}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(list["progress"], "0/2");
        let (status, problem) = api
            .patch(
                &format!("/api/v1/tickets/{ticket}/checklists/{cid}/items/{first}"),
                json!({"done": true}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
        let (status, problem) = api
            .patch(
                &format!("/api/v1/tickets/{ticket}/checklists/{cid}/items/{last}"),
                json!({"done": "yes"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        let (_, t) = api.get(&format!("/api/v1/tickets/{ticket}")).await;
        assert_eq!(t["checklist_progress"], "0/5", "3 from the type + 2 ad hoc");
    }
);

both!(
    the_list_filters_searches_and_offers_saved_views,
    |app: TestApp| async move {
        let api = app.admin_api().await;
        let (ticket_type, customer) = service_desk(&api).await;
        let other = api
            .create("/api/v1/customers", json!({"name": "Vandelay"}))
            .await;
        let me = api.get("/api/v1/me").await.1["id"].as_i64().expect("me");
        let mine = api
            .create(
                "/api/v1/tickets",
                json!({"summary": "Laptop battery swells", "details": "The Dell in reception bulges.",
                    "customer_id": customer, "ticket_type_id": ticket_type, "assignee_id": me}),
            )
            .await;
        let unassigned = api
            .create(
                "/api/v1/tickets",
                json!({"summary": "Import latex", "customer_id": other, "ticket_type_id": ticket_type}),
            )
            .await;
        let ids = |body: &Value| -> Vec<i64> {
            body["items"]
                .as_array()
                .map(|a| a.iter().filter_map(|t| t["id"].as_i64()).collect())
                .unwrap_or_default()
        };
        let (_, all) = api.get("/api/v1/tickets").await;
        assert_eq!(ids(&all), vec![unassigned, mine], "newest first");
        let (_, body) = api.get("/api/v1/tickets?view=mine").await;
        assert_eq!(ids(&body), vec![mine]);
        let (_, body) = api.get("/api/v1/tickets?view=unassigned").await;
        assert_eq!(ids(&body), vec![unassigned]);
        let (_, body) = api
            .get(&format!("/api/v1/tickets?customer_id={other}"))
            .await;
        assert_eq!(ids(&body), vec![unassigned]);
        let (_, body) = api.get(&format!("/api/v1/tickets?assignee_id={me}")).await;
        assert_eq!(ids(&body), vec![mine]);
        let (_, body) = api.get("/api/v1/tickets?status=New&breached=false").await;
        assert_eq!(body["total"], 2);
        // Full-text search reaches the details, case-insensitively.
        let (_, body) = api.get("/api/v1/tickets?search=RECEPTION").await;
        assert_eq!(ids(&body), vec![mine]);
        let (status, problem) = api.get("/api/v1/tickets?view=everything").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        let (status, _) = api.get("/api/v1/tickets?breached=maybe").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

        // A contact of another customer is refused.
        let stranger = api
            .create(
                "/api/v1/contacts",
                json!({"customer_id": other, "name": "Art"}),
            )
            .await;
        let (status, problem) = api
            .post(
                "/api/v1/tickets",
                json!({"summary": "x", "customer_id": customer, "ticket_type_id": ticket_type, "contact_id": stranger}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        let (_, all) = api.get("/api/v1/tickets").await;
        assert_eq!(all["total"], 2, "nothing half-written");
        // The home page's recent changes name tickets by their summary.
        app.employee("home@accord.test", "Hom E", false).await;
        let browser = app
            .browser_login("home@accord.test", "a long test password")
            .await;
        let (_, home) = browser.get("/home").await;
        assert!(
            home.contains("Import latex"),
            "recent changes name the ticket"
        );
    }
);

both!(
    slas_set_due_times_and_the_scan_marks_breaches_once,
    |app: TestApp| async move {
        let api = app.admin_api().await;
        round_the_clock_sla(&api, "urgent", 10, 60).await;
        let (status, problem) = api
            .patch(
                "/api/v1/settings/sla_time_zone",
                json!({"value": "Mars/Base"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");

        let (ticket_type, customer) = service_desk(&api).await;
        let mut tickets = Vec::new();
        for n in 0..5 {
            tickets.push(
                api.create(
                    "/api/v1/tickets",
                    json!({"summary": format!("Outage {n}"), "customer_id": customer, "ticket_type_id": ticket_type}),
                )
                .await,
            );
        }
        let (_, before) = api.get(&format!("/api/v1/tickets/{}", tickets[0])).await;
        // Raising the priority counts the urgent targets from the opening.
        let (status, after) = api
            .patch(
                &format!("/api/v1/tickets/{}", tickets[0]),
                json!({"priority": "urgent"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{after}");
        let at = |v: &Value, k: &str| {
            chrono::DateTime::parse_from_rfc3339(v[k].as_str().expect(k)).expect("time")
        };
        let opened = at(&before, "created_at");
        assert_eq!((at(&after, "response_due_at") - opened).num_minutes(), 10);
        assert_eq!((at(&after, "resolution_due_at") - opened).num_minutes(), 60);
        assert!(at(&before, "resolution_due_at") > at(&after, "resolution_due_at"));

        // Two scans at once, half an hour later: past the urgent ticket's 10-minute response
        // target, within the others' hour. It is marked exactly once.
        let later = accord::kernel::db::now() + 30 * 60_000_000;
        let (a, b) = tokio::join!(
            accord::tickets::sla::scan(&app.state.db, &app.state.config.public_url, later),
            accord::tickets::sla::scan(&app.state.db, &app.state.config.public_url, later)
        );
        let marked = a.expect("scan") + b.expect("scan");
        assert_eq!(marked, 1, "only the urgent ticket is past its targets");
        let (_, body) = api.get("/api/v1/tickets?view=breached").await;
        assert_eq!(body["total"], 1);
        assert_eq!(body["items"][0]["id"], tickets[0]);
        assert!(body["items"][0]["breached_at"].is_string());
        let again = accord::tickets::sla::scan(&app.state.db, &app.state.config.public_url, later)
            .await
            .expect("scan");
        assert_eq!(again, 0, "a second scan finds nothing new");
        // Far in the future all are late.
        let much_later = later + 30 * 24 * 3_600_000_000;
        let marked =
            accord::tickets::sla::scan(&app.state.db, &app.state.config.public_url, much_later)
                .await
                .expect("scan");
        assert_eq!(marked, 4);
    }
);

both!(
    bad_workflows_and_types_are_refused_with_reasons,
    |app: TestApp| async move {
        let api = app.admin_api().await;
        let (status, problem) = api
            .post(
                "/api/v1/workflows",
                json!({"name": "Broken", "statuses": ["Open", "open"], "start_status": "New",
                    "transitions": ["Open => Shut", "Open -> Gone: be quick"]}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        let text = problem["errors"].to_string();
        for expected in [
            "listed twice",
            "is not one of the statuses",
            "must look like",
        ] {
            assert!(text.contains(expected), "{expected}: {text}");
        }
        let (status, problem) = api
            .post(
                "/api/v1/ticket-types",
                json!({"name": "Orphan", "default_priority": "low", "workflow_id": 4242}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        // The structured view of a workflow is in the API.
        let (ticket_type, _) = service_desk(&api).await;
        let (_, t) = api
            .get(&format!("/api/v1/ticket-types/{ticket_type}"))
            .await;
        let (_, w) = api
            .get(&format!("/api/v1/workflows/{}", t["workflow_id"]))
            .await;
        assert_eq!(
            w["definition"]["transitions"][1]["rules"][0],
            "checklists_complete"
        );
        assert_eq!(w["definition"]["statuses"][0]["start"], json!(true));
    }
);

both!(
    portal_contacts_open_and_follow_their_own_tickets,
    |app: TestApp| async move {
        let api = app.admin_api().await;
        let (ticket_type, customer) = service_desk(&api).await;
        let other = api
            .create("/api/v1/customers", json!({"name": "Kramerica"}))
            .await;
        let theirs = api
            .create(
                "/api/v1/tickets",
                json!({"summary": "Someone else's", "customer_id": other, "ticket_type_id": ticket_type}),
            )
            .await;
        let contact = api
            .create(
                "/api/v1/contacts",
                json!({"customer_id": customer, "name": "Pam", "email": "pam@initrode.test", "portal_access": true}),
            )
            .await;
        let hash = accord::kernel::auth::hash_password("a long test password")
            .await
            .expect("hash");
        accord::auth::invitations::set_password_hash(&app.state.db, "contact", contact, &hash)
            .await
            .expect("password");
        let pam = app
            .browser_login("pam@initrode.test", "a long test password")
            .await;

        let (status, page, _) = pam
            .submit(
                "/portal/tickets/new",
                "/portal/tickets",
                &[
                    ("summary", ""),
                    ("ticket_type_id", &ticket_type.to_string()),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.contains("Summary is required"), "the error is shown");
        let (status, _, location) = pam
            .submit(
                "/portal/tickets/new",
                "/portal/tickets",
                &[
                    ("summary", "Scanner offline"),
                    ("details", "Since the power cut."),
                    ("ticket_type_id", &ticket_type.to_string()),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let location = location.expect("location");
        let (status, page) = pam.get(&location).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains("Scanner offline") && page.contains("New"),
            "status shown"
        );
        assert!(page.contains("0/3 done"), "checklist progress shown");
        let (_, list) = pam.get("/portal/tickets").await;
        assert!(list.contains("Scanner offline"));
        assert!(!list.contains("Someone else&#x27;s") && !list.contains("Someone else's"));
        let (status, _) = pam.get(&format!("/portal/tickets/{theirs}")).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "another customer's ticket is not found"
        );

        let id: i64 = location
            .rsplit('/')
            .next()
            .and_then(|s| s.parse().ok())
            .expect("id");
        let (_, t) = api.get(&format!("/api/v1/tickets/{id}")).await;
        assert_eq!(t["customer_id"], customer);
        assert_eq!(t["contact_id"], contact);
        assert!(t["responded_at"].is_null());

        // The agent's reply reaches the portal and counts as the first response; the
        // contact answers there.
        let (status, reply) = api
            .post(
                &format!("/api/v1/tickets/{id}/replies"),
                json!({"body": "Is the scanner's light on?"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{reply}");
        let (_, t) = api.get(&format!("/api/v1/tickets/{id}")).await;
        assert!(t["responded_at"].is_string());
        let (_, page) = pam.get(&location).await;
        assert!(page.contains("light on?"), "the reply is in the portal");
        let (status, _, _) = pam
            .submit(&location, &format!("{location}/replies"), &[("body", "  ")])
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "an empty reply is refused"
        );
        let (status, _, _) = pam
            .submit(
                &location,
                &format!("{location}/replies"),
                &[("body", "Yes, it blinks orange.")],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (_, replies) = api.get(&format!("/api/v1/tickets/{id}/replies")).await;
        assert_eq!(replies["total"], 2);
        assert_eq!(replies["items"][1]["author_kind"], "contact");
        assert_eq!(replies["items"][1]["author_name"], "Pam");
        let (status, _, _) = pam
            .submit(
                &location,
                &format!("/portal/tickets/{theirs}/replies"),
                &[("body", "sneaky")],
            )
            .await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "no replies on another customer's ticket"
        );
    }
);

both!(big_lists_count_up_to_a_limit, |app: TestApp| async move {
    let api = app.admin_api().await;
    let (ticket_type, customer) = service_desk(&api).await;
    // 1,005 tickets straight into the table (creating them one by one is not the point).
    app.state
            .db
            .execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1005)
                 INSERT INTO tickets (summary, summary_lower, customer_id, ticket_type_id, priority, status,
                     response_due_at, resolution_due_at, created_at, updated_at)
                 SELECT 'Bulk ' || i, 'bulk ' || i, $1, $2, 'low', 'New', 0, 0, 0, 0 FROM n",
                accord::args![customer, ticket_type],
            )
            .await
            .expect("bulk insert");
    let (_, body) = api.get("/api/v1/tickets?per_page=200").await;
    assert_eq!(body["total"], 1000);
    assert_eq!(body["total_is_lower_bound"], json!(true));
    assert_eq!(body["items"].as_array().map(Vec::len), Some(200));
    let (_, body) = api.get("/api/v1/tickets?search=bulk%201004").await;
    assert_eq!(body["total"], 1, "small results are counted exactly");
    assert!(body.get("total_is_lower_bound").is_none());
    app.employee("viewer@accord.test", "Vi Ewer", false).await;
    let browser = app
        .browser_login("viewer@accord.test", "a long test password")
        .await;
    let (_, page) = browser.get("/tickets").await;
    assert!(page.contains("of 1,000+"), "the list says there are more");
    assert!(page.contains("rel=\"next\""), "and offers the next page");
});

both!(
    assignees_hear_of_assignment_breaches_and_customer_replies,
    |app: TestApp| async move {
        let api = app.admin_api().await;
        let (ticket_type, customer) = service_desk(&api).await;
        let (agent, agent_token) = app
            .employee("agent@accord.test", "Agnes Agent", false)
            .await;
        let agent_api = Api::new(&app.base, &agent_token);
        let kinds = |body: &Value| -> Vec<String> {
            body["items"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|n| n["event_kind"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let ticket = api
            .create(
                "/api/v1/tickets",
                json!({"summary": "Server room too warm", "customer_id": customer, "ticket_type_id": ticket_type, "priority": "urgent"}),
            )
            .await;
        let (_, none) = agent_api.get("/api/v1/notifications").await;
        assert!(
            kinds(&none).is_empty(),
            "nothing before the assignment: {none}"
        );
        let (status, _) = api
            .patch(
                &format!("/api/v1/tickets/{ticket}"),
                json!({"assignee_id": agent}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (_, mine) = agent_api
            .get("/api/v1/notifications?category=Tickets")
            .await;
        assert_eq!(kinds(&mine), vec!["ticket_assigned"]);
        assert_eq!(mine["items"][0]["object_id"], ticket);

        let later = accord::kernel::db::now() + 10 * 24 * 3_600_000_000;
        let marked = accord::tickets::sla::scan(&app.state.db, &app.state.config.public_url, later)
            .await
            .expect("scan");
        assert_eq!(marked, 1);
        let (_, breaches) = agent_api
            .get("/api/v1/notifications?category=SLA%20breaches")
            .await;
        assert_eq!(kinds(&breaches), vec!["sla_breached"]);

        let contact = api
            .create(
                "/api/v1/contacts",
                json!({"customer_id": customer, "name": "Cy Customer", "email": "cy@initrode.test", "portal_access": true}),
            )
            .await;
        let hash = accord::kernel::auth::hash_password("a long test password")
            .await
            .expect("hash");
        accord::auth::invitations::set_password_hash(&app.state.db, "contact", contact, &hash)
            .await
            .expect("password");
        let cy = app
            .browser_login("cy@initrode.test", "a long test password")
            .await;
        let (status, _, _) = cy
            .submit(
                &format!("/portal/tickets/{ticket}"),
                &format!("/portal/tickets/{ticket}/replies"),
                &[("body", "It is 35 degrees now.")],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (_, updates) = agent_api
            .get("/api/v1/notifications?category=Tickets")
            .await;
        assert!(
            kinds(&updates).contains(&"ticket_updated_by_customer".to_owned()),
            "{updates}"
        );
    }
);

both!(
    archived_references_do_not_freeze_a_ticket_and_late_closes_count,
    |app: TestApp| async move {
        let api = app.admin_api().await;
        round_the_clock_sla(&api, "low", 0, 0).await;
        let (ticket_type, customer) = service_desk(&api).await;
        let contact = api
            .create(
                "/api/v1/contacts",
                json!({"customer_id": customer, "name": "Leaving Soon"}),
            )
            .await;
        let ticket = api
            .create(
                "/api/v1/tickets",
                json!({"summary": "Hand over", "customer_id": customer, "ticket_type_id": ticket_type,
                    "contact_id": contact, "priority": "low"}),
            )
            .await;
        let (status, _) = api
            .post(&format!("/api/v1/contacts/{contact}/archive"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);
        // Its contact archived, the ticket still moves on.
        let (status, body) = api
            .patch(
                &format!("/api/v1/tickets/{ticket}"),
                json!({"status": "In Progress"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // Targets of zero minutes: answered and closed late, with no scan in between.
        assert_eq!(
            body["breached"],
            json!(true),
            "a late response is a breach: {body}"
        );
        let (_, lists) = api
            .get(&format!("/api/v1/tickets/{ticket}/checklists"))
            .await;
        let list = &lists["items"][0];
        let cid = list["id"].as_i64().expect("id");
        for item in list["items"].as_array().expect("items") {
            let iid = item["id"].as_i64().expect("id");
            api.patch(
                &format!("/api/v1/tickets/{ticket}/checklists/{cid}/items/{iid}"),
                json!({"done": true}),
            )
            .await;
        }
        let (status, body) = api
            .patch(
                &format!("/api/v1/tickets/{ticket}"),
                json!({"status": "Resolved"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["breached"], json!(true));
        assert!(body["breached_at"].is_string());
    }
);
