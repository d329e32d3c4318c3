//! The OpenAPI 3 document at `/api/openapi.json`, built from the same descriptions that
//! build the routes (field specs of each resource), so it cannot drift from them.

use crate::contacts::Contacts;
use crate::customers::Customers;
use crate::employees::Employees;
use crate::kernel::resource::{FieldKind, FilterKind, Resource};
use crate::legal_entities::LegalEntities;
use crate::products::Products;
use crate::tickets::Tickets;
use crate::tickets::setup::{ChecklistTemplates, TicketTypes, Workflows};
use accord_domain::input::MAX_ID;
use axum::Json;
use serde_json::{Map, Value, json};

fn field_schema(kind: FieldKind) -> Value {
    match kind {
        FieldKind::Text => json!({"type": "string", "maxLength": 200}),
        FieldKind::Email => json!({"type": "string", "format": "email", "maxLength": 254}),
        FieldKind::Phone => json!({"type": "string", "maxLength": 40}),
        FieldKind::Money => {
            json!({"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,2})?$", "example": "12.50"})
        }
        FieldKind::Percent => {
            json!({"type": "string", "pattern": "^[0-9]+(\\.[0-9]{1,2})?$", "example": "20.00"})
        }
        FieldKind::Currency => {
            json!({"type": "string", "pattern": "^[A-Za-z]{3}$", "example": "GBP"})
        }
        FieldKind::DomainList => {
            json!({"type": "array", "items": {"type": "string", "example": "acme.example"}, "maxItems": 20})
        }
        FieldKind::Lines { max_items } => {
            json!({"type": "array", "items": {"type": "string", "maxLength": 300}, "maxItems": max_items})
        }
        FieldKind::LongText { max_chars } => json!({"type": "string", "maxLength": max_chars}),
        FieldKind::RefList(_) => {
            json!({"type": "array", "items": {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID}, "maxItems": 50})
        }
        FieldKind::ApiOnly => json!({"type": "string", "maxLength": 200}),
        FieldKind::Bool => json!({"type": "boolean"}),
        FieldKind::Choice(options) => {
            json!({"type": "string", "enum": options.iter().map(|(c, _)| *c).collect::<Vec<_>>()})
        }
        FieldKind::Ref(_) => {
            json!({"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID})
        }
    }
}

/// An optional field: also `null`, and for text kinds `""`, which both mean "not set".
fn nullable(schema: Value) -> Value {
    if schema["type"] == "string" {
        json!({"oneOf": [schema, {"type": "string", "maxLength": 0}, {"type": "null"}]})
    } else {
        json!({"oneOf": [schema, {"type": "null"}]})
    }
}

fn input_schema<R: Resource>(for_create: bool) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    for f in R::FIELDS {
        let mut s = field_schema(f.kind);
        if f.required && matches!(f.kind, FieldKind::Text | FieldKind::Email) {
            // Required text may not be blank.
            s["minLength"] = json!(1);
            s["pattern"] = json!("\\S");
        }
        let mut s = if f.required { s } else { nullable(s) };
        s["description"] = json!(f.label);
        props.insert(f.name.into(), s);
        if f.required && for_create {
            required.push(f.name);
        }
    }
    let mut schema = json!({"type": "object", "properties": props, "additionalProperties": false});
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

fn object_schema<R: Resource>() -> Value {
    let mut schema = input_schema::<R>(true);
    let props = schema["properties"]
        .as_object_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    let mut all = Map::new();
    all.insert("id".into(), json!({"type": "integer", "format": "int64"}));
    all.extend(props);
    all.insert("archived".into(), json!({"type": "boolean"}));
    all.insert(
        "created_at".into(),
        json!({"type": "string", "format": "date-time"}),
    );
    all.insert(
        "updated_at".into(),
        json!({"type": "string", "format": "date-time"}),
    );
    all.insert(
        "archived_at".into(),
        nullable(json!({"type": "string", "format": "date-time"})),
    );
    schema["properties"] = Value::Object(all);
    schema["additionalProperties"] = json!(true);
    schema["required"] = json!(["id"]);
    schema
}

fn problem() -> Value {
    json!({"description": "Problem (RFC 9457)", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
}

fn ok(schema: Value) -> Value {
    json!({"description": "OK", "content": {"application/json": {"schema": schema}}})
}

fn id_param() -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID}})
}

fn list_params<R: Resource>() -> Value {
    let sorts: Vec<String> = R::COLUMNS
        .iter()
        .filter(|c| c.sort.is_some())
        .flat_map(|c| [c.key.to_owned(), format!("-{}", c.key)])
        .collect();
    let mut params = json!([
        {"name": "sort", "in": "query", "schema": {"type": "string", "enum": sorts}, "description": "A column key; prefix - for descending"},
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000000}},
        {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
        {"name": "search", "in": "query", "schema": {"type": "string", "maxLength": 200}},
        {"name": "archived", "in": "query", "schema": {"type": "boolean"}}
    ]);
    if let Some(list) = params.as_array_mut() {
        for f in R::FILTERS {
            let schema = match f.kind {
                FilterKind::Id => json!({"type": "integer", "minimum": 1, "maximum": MAX_ID}),
                FilterKind::Text => json!({"type": "string", "maxLength": 200}),
                FilterKind::Bool => json!({"type": "boolean"}),
            };
            list.push(json!({"name": f.param, "in": "query", "schema": schema}));
        }
        if !R::VIEWS.is_empty() {
            let keys: Vec<&str> = R::VIEWS.iter().map(|(k, _, _)| *k).collect();
            list.push(
                json!({"name": "view", "in": "query", "description": "A saved filter",
                "schema": {"type": "string", "enum": keys}}),
            );
        }
    }
    params
}

fn errors() -> Map<String, Value> {
    let mut m = Map::new();
    for code in ["400", "401", "403", "404", "409", "422"] {
        m.insert(code.into(), problem());
    }
    m
}

fn responses(ok_code: &str, ok_body: Value) -> Value {
    let mut m = errors();
    m.insert(ok_code.into(), ok_body);
    Value::Object(m)
}

fn activity_paths(paths: &mut Map<String, Value>, segment: &str, tag: &str) {
    paths.insert(
        format!("/api/v1/{segment}/{{id}}/audit-log"),
        json!({"get": {"tags": [tag], "summary": "Audit Log entries, newest first", "parameters": [id_param()],
            "responses": responses("200", ok(json!({"$ref": "#/components/schemas/AuditLogPage"})))}}),
    );
    paths.insert(
        format!("/api/v1/{segment}/{{id}}/posts"),
        json!({
            "get": {"tags": [tag], "summary": "Activity posts", "parameters": [id_param()],
                "responses": responses("200", ok(json!({"$ref": "#/components/schemas/PostPage"})))},
            "post": {"tags": [tag], "summary": "Add a post", "parameters": [id_param()],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PostInput"}}}},
                "responses": responses("201", ok(json!({"$ref": "#/components/schemas/Post"})))}
        }),
    );
}

fn resource_paths<R: Resource>(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    // "Legal entity" → "LegalEntity"
    let name: String = R::SINGULAR
        .split(' ')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect();
    let tag = R::PLURAL;
    let object_ref = json!({"$ref": format!("#/components/schemas/{name}")});
    schemas.insert(name.clone(), object_schema::<R>());
    schemas.insert(format!("{name}Input"), input_schema::<R>(true));
    schemas.insert(format!("{name}Patch"), input_schema::<R>(false));
    let base = format!("/api/v1/{}", R::PATH);
    let page_schema = json!({"type": "object", "required": ["items", "total"], "properties": {
        "items": {"type": "array", "items": object_ref}, "total": {"type": "integer"},
        "page": {"type": "integer"}, "per_page": {"type": "integer"}}});
    paths.insert(base.clone(), json!({
        "get": {"tags": [tag], "summary": format!("List {}", R::PLURAL.to_lowercase()), "parameters": list_params::<R>(),
            "responses": responses("200", ok(page_schema))},
        "post": {"tags": [tag], "summary": format!("Create a {}", R::SINGULAR.to_lowercase()),
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}Input")}}}},
            "responses": responses("201", ok(object_ref.clone()))}
    }));
    paths.insert(format!("{base}/{{id}}"), json!({
        "get": {"tags": [tag], "summary": format!("Get a {}", R::SINGULAR.to_lowercase()), "parameters": [id_param()],
            "responses": responses("200", ok(object_ref.clone()))},
        "patch": {"tags": [tag], "summary": "Change some fields", "parameters": [id_param()],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}Patch")}}}},
            "responses": responses("200", ok(object_ref.clone()))}
    }));
    for (action, summary) in [
        ("archive", "Archive (hide from lists; nothing is deleted)"),
        ("restore", "Restore an archived object"),
    ] {
        paths.insert(format!("{base}/{{id}}/{action}"), json!({
            "post": {"tags": [tag], "summary": summary, "parameters": [id_param()], "responses": responses("200", ok(object_ref.clone()))}
        }));
    }
    activity_paths(paths, R::PATH, tag);
}

/// Checklists on tickets (SPEC F3).
fn checklist_paths(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    let list_ref = json!({"$ref": "#/components/schemas/TicketChecklist"});
    schemas.insert("TicketChecklist".into(), json!({"type": "object", "required": ["id", "name", "items", "progress"], "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"}, "template_id": {"type": ["integer", "null"]},
        "progress": {"type": "string", "example": "3/5"},
        "items": {"type": "array", "items": {"type": "object", "required": ["id", "text", "done"], "properties": {
            "id": {"type": "integer"}, "text": {"type": "string"}, "position": {"type": "integer"}, "done": {"type": "boolean"},
            "done_at": {"type": ["string", "null"], "format": "date-time"}, "done_by_id": {"type": ["integer", "null"]},
            "done_by_name": {"type": ["string", "null"]}}}}}}));
    let cid = json!({"name": "cid", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID}});
    let iid = json!({"name": "iid", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID}});
    let body = |schema: Value| json!({"required": true, "content": {"application/json": {"schema": schema}}});
    paths.insert("/api/v1/tickets/{id}/checklists".into(), json!({
        "get": {"tags": ["Tickets"], "summary": "A ticket's checklists with their items", "parameters": [id_param()],
            "responses": responses("200", ok(json!({"type": "object", "properties": {"items": {"type": "array", "items": list_ref}, "total": {"type": "integer"}}})))},
        "post": {"tags": ["Tickets"], "summary": "Add a checklist: from a template (template_id), or ad hoc (name and items)",
            "parameters": [id_param()],
            "requestBody": body(json!({"oneOf": [
                {"type": "object", "required": ["template_id"], "additionalProperties": false,
                    "properties": {"template_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}},
                {"type": "object", "required": ["name"], "additionalProperties": false,
                    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"},
                        "items": {"oneOf": [{"type": "array", "maxItems": 100, "description": "blank items are skipped",
                            "items": {"type": "string", "maxLength": 300}}, {"type": "null"}]}}}]})),
            "responses": responses("201", ok(list_ref.clone()))}
    }));
    let reply = json!({"type": "object", "required": ["id", "author_kind", "author_name", "body", "created_at"], "properties": {
        "id": {"type": "integer"}, "author_kind": {"type": "string", "enum": ["employee", "contact"]},
        "author_id": {"type": "integer"}, "author_name": {"type": "string"}, "body": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"}}});
    paths.insert("/api/v1/tickets/{id}/replies".into(), json!({
        "get": {"tags": ["Tickets"], "summary": "The conversation with the customer, oldest first", "parameters": [id_param()],
            "responses": responses("200", ok(json!({"type": "object", "properties": {"items": {"type": "array", "items": reply.clone()}, "total": {"type": "integer"}}})))},
        "post": {"tags": ["Tickets"], "summary": "Reply to the customer (shown in the portal; the first reply is the first response)",
            "parameters": [id_param()],
            "requestBody": body(json!({"type": "object", "required": ["body"], "additionalProperties": false,
                "properties": {"body": {"type": "string", "minLength": 1, "maxLength": 20000, "pattern": "\\S"}}})),
            "responses": responses("201", ok(reply))}
    }));
    paths.insert("/api/v1/tickets/{id}/checklists/{cid}".into(), json!({
        "get": {"tags": ["Tickets"], "summary": "One checklist", "parameters": [id_param(), cid.clone()],
            "responses": responses("200", ok(list_ref.clone()))}
    }));
    paths.insert("/api/v1/tickets/{id}/checklists/{cid}/items".into(), json!({
        "post": {"tags": ["Tickets"], "summary": "Add an item at the end", "parameters": [id_param(), cid.clone()],
            "requestBody": body(json!({"type": "object", "required": ["text"], "additionalProperties": false,
                "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 300, "pattern": "\\S"}}})),
            "responses": responses("201", ok(list_ref.clone()))}
    }));
    paths.insert("/api/v1/tickets/{id}/checklists/{cid}/items/{iid}".into(), json!({
        "patch": {"tags": ["Tickets"], "summary": "Tick or untick (done), rename (text) or move (up/down) an item",
            "parameters": [id_param(), cid.clone(), iid.clone()],
            "requestBody": body(json!({"type": "object", "minProperties": 1, "additionalProperties": false, "properties": {
                "done": {"type": "boolean"}, "text": {"type": "string", "minLength": 1, "maxLength": 300, "pattern": "\\S"},
                "move": {"type": "string", "enum": ["up", "down"]}}})),
            "responses": responses("200", ok(list_ref.clone()))},
        "delete": {"tags": ["Tickets"], "summary": "Remove an item", "parameters": [id_param(), cid, iid],
            "responses": responses("200", ok(list_ref))}
    }));
}

/// The JSON login and two-factor authentication (SPEC F1).
fn two_factor_paths(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    let throttled = |ok_code: &str, body: Value| {
        let mut r = responses(ok_code, body);
        r["429"] = problem();
        r
    };
    let json_body = |schema: Value| json!({"required": true, "content": {"application/json": {"schema": schema}}});
    let code_input = json!({"type": "object", "required": ["code"], "additionalProperties": false,
        "properties": {"code": {"type": "string", "maxLength": 40, "description": "6 digits from the authenticator app (or, at login, a recovery code)"}}});
    let status_ref = json!({"$ref": "#/components/schemas/TwoFactorStatus"});
    let codes = ok(
        json!({"type": "object", "required": ["recovery_codes"], "properties": {
        "recovery_codes": {"type": "array", "items": {"type": "string"}, "minItems": 10, "maxItems": 10}}}),
    );
    schemas.insert("TwoFactorStatus".into(), json!({"type": "object",
        "required": ["mode", "own_mode", "enrolled", "recovery_codes_left", "can_disable"], "properties": {
        "mode": {"type": "string", "enum": ["off", "enabled", "required"], "description": "What applies (with Require 2FA For Administrators)"},
        "own_mode": {"type": "string", "enum": ["off", "enabled", "required"], "description": "What was set for this user"},
        "enrolled": {"type": "boolean"}, "enrolled_at": {"type": ["string", "null"], "format": "date-time"},
        "recovery_codes_left": {"type": "integer"}, "can_disable": {"type": "boolean"}}}));
    paths.insert("/api/v1/auth/login".into(), json!({"post": {"tags": ["Auth"], "security": [],
        "summary": "Log in with e-mail and password; sets the session cookie",
        "description": "status ok: logged in. totp_required: POST /api/v1/auth/totp next. enrolment_required: set up 2FA under /api/v1/me/2fa first. Send csrf_token as X-CSRF-Token on later state-changing requests of the session.",
        "requestBody": json_body(json!({"type": "object", "required": ["email", "password"], "additionalProperties": false,
            "properties": {"email": {"type": "string", "maxLength": 254}, "password": {"type": "string", "maxLength": 1024}}})),
        "responses": throttled("200", ok(json!({"type": "object", "required": ["status", "csrf_token"], "properties": {
            "status": {"type": "string", "enum": ["ok", "totp_required", "enrolment_required"]}, "csrf_token": {"type": "string"}}})))}}));
    paths.insert("/api/v1/auth/totp".into(), json!({"post": {"tags": ["Auth"],
        "summary": "Finish a login with a code from the authenticator app or a recovery code",
        "requestBody": json_body(code_input.clone()),
        "responses": throttled("200", ok(json!({"type": "object", "required": ["status"], "properties": {
            "status": {"type": "string", "enum": ["ok"]}, "recovery_codes_left": {"type": "integer"}}})))}}));
    paths.insert(
        "/api/v1/me/2fa".into(),
        json!({"get": {"tags": ["Auth"], "summary": "Your two-factor authentication",
        "responses": responses("200", ok(status_ref.clone()))}}),
    );
    paths.insert("/api/v1/me/2fa/enrol".into(), json!({"post": {"tags": ["Auth"],
        "summary": "Start setting up 2FA: the secret and otpauth:// URI for an authenticator app (nothing changes until confirmed)",
        "responses": responses("200", ok(json!({"type": "object", "required": ["secret", "otpauth_uri"], "properties": {
            "secret": {"type": "string"}, "otpauth_uri": {"type": "string"}}})))}}));
    paths.insert("/api/v1/me/2fa/confirm".into(), json!({"post": {"tags": ["Auth"],
        "summary": "Confirm the set-up with a current code; returns the 10 recovery codes (shown once)",
        "requestBody": json_body(code_input.clone()), "responses": throttled("200", codes.clone())}}));
    paths.insert(
        "/api/v1/me/2fa/recovery-codes".into(),
        json!({"post": {"tags": ["Auth"],
        "summary": "Replace your recovery codes (needs a current code)",
        "requestBody": json_body(code_input.clone()), "responses": throttled("200", codes)}}),
    );
    paths.insert("/api/v1/me/2fa/disable".into(), json!({"post": {"tags": ["Auth"],
        "summary": "Turn your 2FA off (needs a current code; refused when it is required)",
        "requestBody": json_body(code_input), "responses": throttled("200", ok(status_ref.clone()))}}));
    paths.insert("/api/v1/employees/{id}/2fa".into(), json!({
        "get": {"tags": ["Employees"], "summary": "An employee's two-factor authentication", "parameters": [id_param()],
            "responses": responses("200", ok(status_ref.clone()))},
        "post": {"tags": ["Employees"], "summary": "Set an employee's 2FA: off, enabled (asked to enrol at next login) or required (administrators)",
            "parameters": [id_param()],
            "requestBody": json_body(json!({"type": "object", "required": ["mode"], "additionalProperties": false,
                "properties": {"mode": {"type": "string", "enum": ["off", "enabled", "required"]}}})),
            "responses": responses("200", ok(status_ref.clone()))}}));
    paths.insert("/api/v1/contacts/{id}/2fa/reset".into(), json!({"post": {"tags": ["Contacts"],
        "summary": "Reset a portal contact's 2FA (a lost phone and lost recovery codes): they enrol again at next login (administrators)",
        "parameters": [id_param()], "responses": responses("200", ok(json!({"type": "object", "required": ["id", "reset"],
            "properties": {"id": {"type": "integer"}, "reset": {"type": "boolean"}}})))}}));
    paths.insert("/api/v1/employees/{id}/2fa/reset".into(), json!({"post": {"tags": ["Employees"],
        "summary": "Reset an employee's 2FA (a lost phone): they enrol again at next login (administrators)",
        "parameters": [id_param()], "responses": responses("200", ok(status_ref))}}));
}

fn paging_params() -> Vec<Value> {
    vec![
        json!({"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000000}}),
        json!({"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}}),
    ]
}

fn page_of(item: &str) -> Value {
    json!({"type": "object", "required": ["items", "total"], "properties": {
        "items": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}},
        "total": {"type": "integer"}, "page": {"type": "integer"}, "per_page": {"type": "integer"}}})
}

/// Notifications, System Email Templates, the Outbox and Background Jobs.
fn platform_paths(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    use accord_domain::notify::{CATEGORIES, EVENT_KINDS, MARK_READ_EVENTS};
    let category = json!({"name": "category", "in": "query", "schema": {"type": "string", "enum": CATEGORIES}});
    let mut list_params = paging_params();
    list_params.push(json!({"name": "unread", "in": "query", "schema": {"type": "boolean"}}));
    list_params.push(category.clone());
    let tag = "Notifications";
    paths.insert("/api/v1/notifications".into(), json!({
        "get": {"tags": [tag], "summary": "The caller's notifications, newest first", "parameters": list_params,
            "responses": responses("200", ok(page_of("Notification")))}
    }));
    paths.insert("/api/v1/notifications/count".into(), json!({
        "get": {"tags": [tag], "summary": "The caller's unread count (the bell)",
            "responses": responses("200", ok(json!({"type": "object", "required": ["unread"], "properties": {"unread": {"type": "integer"}}})))}
    }));
    paths.insert("/api/v1/notifications/{id}/read".into(), json!({
        "post": {"tags": [tag], "summary": "Mark one notification as read", "parameters": [id_param()],
            "responses": responses("200", ok(json!({"type": "object", "properties": {"id": {"type": "integer"}, "read": {"type": "boolean"}, "unread": {"type": "integer"}}})))}
    }));
    paths.insert("/api/v1/notifications/read-all".into(), json!({
        "post": {"tags": [tag], "summary": "Mark all as read (or all of one category)", "parameters": [category],
            "responses": responses("200", ok(json!({"type": "object", "properties": {"marked": {"type": "integer"}, "unread": {"type": "integer"}}})))}
    }));
    schemas.insert("Notification".into(), json!({"type": "object", "properties": {
        "id": {"type": "integer"}, "recipient_id": {"type": "integer"}, "recipient_name": {"type": "string"},
        "category": {"type": "string", "enum": CATEGORIES}, "event_kind": {"type": "string"},
        "object_type": {"type": "string"}, "object_id": {"type": "integer"}, "link": {"type": "string"},
        "title": {"type": "string"}, "channels": {"type": "array", "items": {"type": "string", "enum": ["in-app", "email"]}},
        "read": {"type": "boolean"}, "read_at": {"type": ["string", "null"], "format": "date-time"},
        "created_at": {"type": "string", "format": "date-time"}}}));

    let kinds: Vec<&str> = EVENT_KINDS.iter().map(|k| k.code).collect();
    let events: Vec<&str> = MARK_READ_EVENTS.iter().map(|(c, _)| *c).collect();
    let kind_param = json!({"name": "kind", "in": "path", "required": true, "schema": {"type": "string", "enum": kinds}});
    let template_ref = json!({"$ref": "#/components/schemas/EmailTemplate"});
    let tag = "System Email Templates";
    paths.insert("/api/v1/email-templates".into(), json!({
        "get": {"tags": [tag], "summary": "Every event kind's template",
            "responses": responses("200", ok(json!({"type": "object", "properties": {"items": {"type": "array", "items": template_ref}, "total": {"type": "integer"}}})))}
    }));
    paths.insert("/api/v1/email-templates/{kind}".into(), json!({
        "get": {"tags": [tag], "summary": "One template", "parameters": [kind_param.clone()], "responses": responses("200", ok(template_ref.clone()))},
        "patch": {"tags": [tag], "summary": "Change a template (administrators); unknown placeholders are refused", "parameters": [kind_param],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": {
                "subject": {"type": "string", "minLength": 1, "maxLength": 300, "pattern": "^[^\\r\\n]*\\S[^\\r\\n]*$"},
                "body": {"type": "string", "minLength": 1, "maxLength": 20000, "pattern": "\\S"},
                "in_app": {"type": "boolean"}, "email": {"type": "boolean"},
                "mark_read_events": {"type": "array", "items": {"type": "string", "enum": events}}}}}}},
            "responses": responses("200", ok(template_ref.clone()))}
    }));
    schemas.insert("EmailTemplate".into(), json!({"type": "object", "properties": {
        "event_kind": {"type": "string"}, "label": {"type": "string"}, "category": {"type": "string"},
        "subject": {"type": "string"}, "body": {"type": "string"}, "in_app": {"type": "boolean"}, "email": {"type": "boolean"},
        "mark_read_events": {"type": "array", "items": {"type": "string"}}, "customised": {"type": "boolean"}}}));

    let mut outbox_params = paging_params();
    outbox_params.push(json!({"name": "status", "in": "query", "schema": {"type": "string", "enum": crate::mail::STATUSES}}));
    let mail_ref = json!({"$ref": "#/components/schemas/Mail"});
    let tag = "Outbox";
    paths.insert("/api/v1/outbox".into(), json!({
        "get": {"tags": [tag], "summary": "Mails, newest first (administrators)", "parameters": outbox_params,
            "responses": responses("200", ok(page_of("Mail")))}
    }));
    paths.insert("/api/v1/outbox/{id}".into(), json!({
        "get": {"tags": [tag], "summary": "One mail", "parameters": [id_param()], "responses": responses("200", ok(mail_ref.clone()))}
    }));
    paths.insert("/api/v1/outbox/{id}/resend".into(), json!({
        "post": {"tags": [tag], "summary": "Resend: try a queued or failed mail now; queue a copy of a sent one", "parameters": [id_param()],
            "responses": responses("200", ok(mail_ref))}
    }));
    schemas.insert("Mail".into(), json!({"type": "object", "properties": {
        "id": {"type": "integer"}, "to": {"type": "string"}, "subject": {"type": "string"},
        "body_text": {"type": "string"}, "body_html": {"type": "string"}, "message_id": {"type": "string"},
        "status": {"type": "string", "enum": crate::mail::STATUSES}, "attempts": {"type": "integer"},
        "next_attempt_at": {"type": "string", "format": "date-time"}, "last_error": {"type": ["string", "null"]},
        "event_kind": {"type": ["string", "null"]}, "object_type": {"type": ["string", "null"]},
        "object_id": {"type": ["integer", "null"]}, "created_at": {"type": "string", "format": "date-time"},
        "sent_at": {"type": ["string", "null"], "format": "date-time"}}}));

    let mut job_params = paging_params();
    job_params.push(json!({"name": "status", "in": "query", "schema": {"type": "string", "enum": crate::kernel::jobs::STATUSES}}));
    let tag = "Background Jobs";
    paths.insert("/api/v1/jobs".into(), json!({
        "get": {"tags": [tag], "summary": "Background jobs, newest first (administrators)", "parameters": job_params,
            "responses": responses("200", ok(page_of("Job")))}
    }));
    paths.insert(
        "/api/v1/jobs/{id}".into(),
        json!({
            "get": {"tags": [tag], "summary": "One job", "parameters": [id_param()],
                "responses": responses("200", ok(json!({"$ref": "#/components/schemas/Job"})))}
        }),
    );
    paths.insert(
        "/api/v1/jobs/{id}/retry".into(),
        json!({
            "post": {"tags": [tag], "summary": "Retry a failed job now", "parameters": [id_param()],
                "responses": responses("200", ok(json!({"$ref": "#/components/schemas/Job"})))}
        }),
    );
    schemas.insert("Job".into(), json!({"type": "object", "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string"}, "payload": {},
        "status": {"type": "string", "enum": crate::kernel::jobs::STATUSES}, "attempts": {"type": "integer"},
        "max_attempts": {"type": "integer"}, "run_after": {"type": "string", "format": "date-time"},
        "locked_by": {"type": ["string", "null"]}, "locked_until": {"type": ["string", "null"], "format": "date-time"},
        "last_error": {"type": ["string", "null"]}, "progress": {"type": ["string", "null"]},
        "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"},
        "finished_at": {"type": ["string", "null"], "format": "date-time"}}}));
}

/// Builds the whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    resource_paths::<Customers>(&mut paths, &mut schemas);
    resource_paths::<Contacts>(&mut paths, &mut schemas);
    resource_paths::<Employees>(&mut paths, &mut schemas);
    resource_paths::<LegalEntities>(&mut paths, &mut schemas);
    resource_paths::<Products>(&mut paths, &mut schemas);
    resource_paths::<Tickets>(&mut paths, &mut schemas);
    resource_paths::<TicketTypes>(&mut paths, &mut schemas);
    resource_paths::<Workflows>(&mut paths, &mut schemas);
    resource_paths::<ChecklistTemplates>(&mut paths, &mut schemas);
    checklist_paths(&mut paths, &mut schemas);

    let setting_ref = json!({"$ref": "#/components/schemas/Setting"});
    let setting_param = json!({"name": "id", "in": "path", "required": true, "description": "Numeric id or key", "schema": {"type": "string"}});
    paths.insert("/api/v1/settings".into(), json!({
        "get": {"tags": ["Settings"], "summary": "All system settings (Setup → Control → Defaults)",
            "parameters": [{"name": "search", "in": "query", "schema": {"type": "string"}}],
            "responses": responses("200", ok(json!({"type": "object", "properties": {"items": {"type": "array", "items": setting_ref}, "total": {"type": "integer"}}})))},
        "post": {"tags": ["Settings"], "summary": "Set a setting that is at its default",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["key", "value"],
                "properties": {"key": {"type": "string"}, "value": {}}, "additionalProperties": false}}}},
            "responses": responses("201", ok(setting_ref.clone()))}
    }));
    paths.insert("/api/v1/settings/{id}".into(), json!({
        "get": {"tags": ["Settings"], "summary": "One setting", "parameters": [setting_param.clone()], "responses": responses("200", ok(setting_ref.clone()))},
        "patch": {"tags": ["Settings"], "summary": "Change a setting", "parameters": [setting_param],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["value"],
                "properties": {"value": {}}, "additionalProperties": false}}}},
            "responses": responses("200", ok(setting_ref.clone()))}
    }));
    paths.insert("/api/v1/settings/{id}/archive".into(), json!({
        "post": {"tags": ["Settings"], "summary": "Reset a setting to its default", "parameters": [id_param()], "responses": responses("200", ok(setting_ref))}
    }));
    activity_paths(&mut paths, "settings", "Settings");
    platform_paths(&mut paths, &mut schemas);
    for (segment, tag) in [("contacts", "Contacts"), ("employees", "Employees")] {
        paths.insert(format!("/api/v1/{segment}/{{id}}/invitation"), json!({
            "post": {"tags": [tag], "summary": "Make a new invitation link (older links stop working)", "parameters": [id_param()],
                "responses": responses("200", ok(json!({"type": "object", "properties": {"invitation_url": {"type": "string"}}})))}
        }));
    }
    paths.insert("/api/v1/me".into(), json!({
        "get": {"tags": ["Auth"], "summary": "Who the token or session belongs to",
            "responses": responses("200", ok(json!({"type": "object", "properties": {
                "id": {"type": "integer"}, "name": {"type": "string"}, "email": {"type": "string"}, "is_admin": {"type": "boolean"}, "kind": {"type": "string"}}})))}
    }));
    two_factor_paths(&mut paths, &mut schemas);

    schemas.insert("Problem".into(), json!({"type": "object", "required": ["title", "status"], "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}}}}));
    schemas.insert("Setting".into(), json!({"type": "object", "properties": {
        "id": {"type": "integer"}, "key": {"type": "string"}, "label": {"type": "string"}, "help": {"type": "string"},
        "type": {"type": "string", "enum": ["bool", "choice", "text", "integer"]}, "value": {}, "default_value": {},
        "is_default": {"type": "boolean"}, "options": {"type": "array"}, "updated_at": {"type": "string", "format": "date-time"}}}));
    schemas.insert("AuditLogPage".into(), json!({"type": "object", "properties": {"total": {"type": "integer"}, "items": {"type": "array", "items": {"type": "object", "properties": {
        "id": {"type": "integer"}, "action": {"type": "string"}, "changes": {"type": "object"}, "actor_id": {"type": ["integer", "null"]},
        "actor_name": {"type": ["string", "null"]}, "at": {"type": "string", "format": "date-time"}}}}}}));
    schemas.insert("PostInput".into(), json!({"type": "object", "required": ["body"], "additionalProperties": false, "properties": {
        "body": {"type": "string", "minLength": 1, "maxLength": 20000, "pattern": "\\S"},
        "tagged_employee_ids": {"oneOf": [{"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}, {"type": "null"}]}}}));
    schemas.insert("Post".into(), json!({"type": "object", "properties": {"id": {"type": "integer"}, "author_id": {"type": "integer"},
        "author_name": {"type": "string"}, "body": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
        "tagged_employee_ids": {"type": "array", "items": {"type": "integer"}}}}));
    schemas.insert("PostPage".into(), json!({"type": "object", "properties": {"total": {"type": "integer"}, "items": {"type": "array", "items": {"$ref": "#/components/schemas/Post"}}}}));

    json!({
        "openapi": "3.1.0",
        "info": {"title": "Accord PSA API", "version": env!("CARGO_PKG_VERSION"),
            "description": "REST API of Accord. Money is a decimal string (\"12.50\"); times are RFC 3339 UTC; errors are application/problem+json."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}
    })
}

pub async fn handler() -> Json<Value> {
    Json(document())
}
