//! The generic object machinery: one description per object type (its fields, columns,
//! SQL and rules) gives it a paged and searched list, create, view, edit, archive and
//! restore, in the web UI and in the REST API, with the same validation and an audit entry
//! for every change. A room implements [`Resource`] for its object; this module does the rest.

use super::audit::{self, Actor};
use super::auth::{EmployeeUser, Staff};
use super::db::{Arg, Backend, Db, Record, Tx, is_unique_violation, like_contains, now};
use super::error::AppError;
use super::web::{AppState, Paging, api_time, api_time_opt, int_param};
use crate::config::Config;
use accord_domain::FieldErrors;
use accord_domain::input::MAX_ID;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::future::Future;

/// How a field is entered and shown.
#[derive(Debug, Clone, Copy)]
pub enum FieldKind {
    Text,
    Email,
    Phone,
    /// A decimal string such as "12.50".
    Money,
    /// A percentage such as "20.00".
    Percent,
    /// A three-letter currency code.
    Currency,
    /// A list of e-mail domains: one per line in forms, an array in JSON.
    DomainList,
    /// Lines of text (statuses, checklist items): one per line in forms, an array in JSON.
    Lines {
        max_items: usize,
    },
    /// Several lines of free text (a ticket's details).
    LongText {
        max_chars: usize,
    },
    Bool,
    /// One of (code, label).
    Choice(&'static [(&'static str, &'static str)]),
    /// The id of another object.
    Ref(RefSpec),
    /// Ids of other objects: a multiple choice in forms, an array in JSON. `name_key` holds
    /// their names (an array) for display.
    RefList(RefSpec),
    /// Set through the API and its own control on the detail page, never in the edit form
    /// (a ticket's status moves through its workflow).
    ApiOnly,
}

/// Where a reference field points.
#[derive(Debug, Clone, Copy)]
pub struct RefSpec {
    /// URL segment of the target type, for links (`legal-entities`).
    pub path: &'static str,
    pub table: &'static str,
    /// JSON key holding the target's name for display (`legal_entity_name`).
    pub name_key: &'static str,
    /// Only targets whose column of this name equals the edited object's id may be chosen
    /// (a customer's invoice contact must be one of its contacts).
    pub scope: Option<&'static str>,
}

/// A writable field of an object.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    /// JSON and form name; matches the UI label in snake_case.
    pub name: &'static str,
    pub label: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    pub help: &'static str,
}

/// What a write hook ([`Resource::after_write`]) may use and leave behind.
pub struct WriteContext<'a> {
    pub config: &'a Config,
    pub actor: Actor<'a>,
    /// Employees whose bell changed: announced after the commit.
    pub announce: Vec<i64>,
}

/// What a list filter's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterKind {
    /// A positive id.
    Id,
    /// Text compared exactly (a status).
    Text,
    /// `true` or `false`.
    Bool,
}

/// An equality filter from the query string: `?{param}=value` keeps rows whose `column`
/// equals the value.
#[derive(Debug, Clone, Copy)]
pub struct Filter {
    pub param: &'static str,
    pub column: &'static str,
    pub kind: FilterKind,
}

/// A column of a list page.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub label: &'static str,
    /// JSON key of the value shown.
    pub key: &'static str,
    /// SQL to sort by, when the column is sortable: an expression on the object's own
    /// table `t` only (see [`list`]).
    pub sort: Option<&'static str>,
}

/// Anything with an Activity tab and an Audit Log: it lives in a table with an `id`.
pub trait ObjectType: Send + Sync + 'static {
    /// URL segment and audit object type (`customers`).
    const PATH: &'static str;
    const TABLE: &'static str;
    /// What one is called (`Customer`).
    const SINGULAR: &'static str;
}

/// A related list shown on a detail page (a customer's contacts).
pub struct Related {
    pub title: String,
    pub columns: Vec<&'static str>,
    pub rows: Vec<(String, Vec<String>)>,
    pub add_link: Option<(String, String)>,
}

/// An object type with the full set of list, create, view, edit and archive operations.
pub trait Resource: ObjectType {
    const PLURAL: &'static str;
    /// Which navigation entry is highlighted on its pages.
    const NAV: &'static str;
    /// The FROM clause; the object's own table is aliased `t`.
    const FROM: &'static str;
    /// The selected columns, decoded into [`Resource::Row`].
    const SELECT: &'static str;
    /// A condition matching the search text bound as `$1` (a lower-cased LIKE pattern).
    const SEARCH: &'static str;
    /// Where the dialects differ, SQLite searches through an FTS5 trigram table: a condition
    /// matching the FTS query bound as `$1` (PostgreSQL's trigram indexes serve [`Self::SEARCH`]).
    const SQLITE_SEARCH: Option<&'static str> = None;
    /// `active_counts` keeps this table's number of active rows (see migration 0002).
    const COUNTED: bool = false;
    /// Lists count at most this many matches (then show "1,000+"): counting a million rows
    /// to print one number would cost more than the page itself.
    const COUNT_LIMIT: Option<i64> = None;
    /// The column key lists sort by when no sort is asked for.
    const DEFAULT_SORT: &'static str;
    /// Equality filters from the query string.
    const FILTERS: &'static [Filter] = &[];
    /// Saved filters offered above the list and as `?view=` in the API:
    /// (key, label, SQL condition on `t`; `$viewer` stands for the viewer's employee id).
    const VIEWS: &'static [(&'static str, &'static str, &'static str)] = &[];
    /// Only administrators may create, change or archive these.
    const ADMIN_WRITES: bool = false;
    const FIELDS: &'static [FieldSpec];
    const COLUMNS: &'static [Column];
    /// Extra buttons on the detail page: (label, path after `/{PATH}/{id}/`), POSTed.
    const ACTIONS: &'static [(&'static str, &'static str)] = &[];
    /// Buttons acting on the rows ticked in the list: (label, path after `/{PATH}/`),
    /// POSTed with the ticked ids as `ids`. Their routes belong to the room that owns them.
    const BULK_ACTIONS: &'static [(&'static str, &'static str)] = &[];

    type Row: Record + ObjectRow;
    type Draft: Send + Sync;

    /// Validates a whole submitted object (pure: the domain crate's rules).
    fn parse(input: &Map<String, Value>) -> Result<Self::Draft, FieldErrors>;
    /// The API representation of the fields, without `id` and times (added by [`json_of`]).
    fn to_json(row: &Self::Row) -> Map<String, Value>;

    /// Rules that need the database: references exist, values are unique.
    fn check(
        tx: &mut Tx,
        id: Option<i64>,
        draft: &Self::Draft,
    ) -> impl Future<Output = Result<(), AppError>> + Send;
    fn insert(
        tx: &mut Tx,
        draft: &Self::Draft,
        at: i64,
    ) -> impl Future<Output = Result<i64, AppError>> + Send;
    fn update(
        tx: &mut Tx,
        id: i64,
        draft: &Self::Draft,
        at: i64,
    ) -> impl Future<Output = Result<(), AppError>> + Send;

    /// Runs after a create or change in the same transaction (notifications, invitations);
    /// may return an invitation link to show once.
    fn after_write(
        _tx: &mut Tx,
        _ctx: &mut WriteContext<'_>,
        _id: i64,
        _before: Option<&Map<String, Value>>,
        _after: &Map<String, Value>,
    ) -> impl Future<Output = Result<Option<String>, AppError>> + Send {
        async { Ok(None) }
    }

    /// May `actor` archive this object? (Refuse, e.g., archiving the last administrator.)
    fn check_archive(
        _tx: &mut Tx,
        _id: i64,
        _actor: &EmployeeUser,
    ) -> impl Future<Output = Result<(), AppError>> + Send {
        async { Ok(()) }
    }

    /// Related lists for the detail page.
    fn related(_db: &Db, _id: i64) -> impl Future<Output = Result<Vec<Related>, AppError>> + Send {
        async { Ok(Vec::new()) }
    }

    /// More controls for the list's bulk bar (a select and its button), rendered by the room
    /// that owns them; their buttons use `formaction` like [`Self::BULK_ACTIONS`].
    fn bulk_controls(_state: &AppState) -> impl Future<Output = Result<String, AppError>> + Send {
        async { Ok(String::new()) }
    }

    /// Extra sections of the detail page's Details tab, rendered by the room that owns them
    /// (e.g. an employee's two-factor authentication).
    fn detail_sections(
        _state: &AppState,
        _id: i64,
        _viewer: &Staff,
    ) -> impl Future<Output = Result<Vec<String>, AppError>> + Send {
        async { Ok(Vec::new()) }
    }
}

/// What every object's row has: an id, a name to show, and its times.
pub trait ObjectRow {
    fn id(&self) -> i64;
    fn title(&self) -> String;
    fn times(&self) -> Times;
}

/// Implements [`ObjectRow`] for a row struct with the fields `id`, `name`, `created_at`,
/// `updated_at` and `archived_at`.
#[macro_export]
macro_rules! object_row {
    ($row:ty) => {
        impl $crate::kernel::resource::ObjectRow for $row {
            fn id(&self) -> i64 {
                self.id
            }
            fn title(&self) -> String {
                self.name.clone()
            }
            fn times(&self) -> $crate::kernel::resource::Times {
                $crate::kernel::resource::Times {
                    created_at: self.created_at,
                    updated_at: self.updated_at,
                    archived_at: self.archived_at,
                }
            }
        }
    };
}

/// When an object was created, last changed and archived (UTC microseconds).
#[derive(Debug, Clone, Copy)]
pub struct Times {
    pub created_at: i64,
    pub updated_at: i64,
    pub archived_at: Option<i64>,
}

/// The full API representation of a row: `id` first, then the fields, then the times.
pub fn json_of<R: Resource>(row: &R::Row) -> Map<String, Value> {
    let times = row.times();
    let mut map = Map::new();
    map.insert("id".into(), Value::from(row.id()));
    map.extend(R::to_json(row));
    map.insert("archived".into(), Value::Bool(times.archived_at.is_some()));
    map.insert(
        "created_at".into(),
        Value::String(api_time(times.created_at)),
    );
    map.insert(
        "updated_at".into(),
        Value::String(api_time(times.updated_at)),
    );
    map.insert("archived_at".into(), api_time_opt(times.archived_at));
    map
}

/// Only the writable fields of a representation (what a PATCH is merged into).
pub fn writable<R: Resource>(json: &Map<String, Value>) -> Map<String, Value> {
    R::FIELDS
        .iter()
        .filter_map(|f| json.get(f.name).map(|v| (f.name.to_owned(), v.clone())))
        .collect()
}

fn by_id_sql<R: Resource>() -> String {
    format!("SELECT {} FROM {} WHERE t.id = $1", R::SELECT, R::FROM)
}

/// One object by id, archived or not.
pub async fn fetch<R: Resource>(db: &Db, id: i64) -> Result<Option<R::Row>, AppError> {
    Ok(db
        .fetch_optional(&by_id_sql::<R>(), crate::args![id])
        .await?)
}

/// One object by id inside a transaction, archived or not.
pub async fn fetch_in<R: Resource>(tx: &mut Tx, id: i64) -> Result<Option<R::Row>, AppError> {
    Ok(tx
        .fetch_optional(&by_id_sql::<R>(), crate::args![id])
        .await?)
}

/// What a list asks for, parsed from the query string.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub search: Option<String>,
    /// Key of the sort column.
    pub sort: &'static str,
    pub descending: bool,
    pub paging: Paging,
    pub archived: bool,
    pub filters: Vec<(&'static str, &'static str, Arg)>,
    /// A saved view: (key, SQL condition).
    pub view: Option<(&'static str, &'static str)>,
    /// The employee asking, for views about "mine".
    pub viewer: Option<i64>,
}

impl ListQuery {
    /// Reads `search`, `sort` (`name` or `-name`), `page`, `per_page`, `archived` and the
    /// type's filters; anything malformed is a validation error naming the parameter.
    pub fn parse<R: Resource>(params: &HashMap<String, String>) -> Result<Self, AppError> {
        let mut errors = FieldErrors::new();
        let search = params
            .get("search")
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        if search.as_ref().is_some_and(|s| s.chars().count() > 200) {
            errors.add("search", "must be at most 200 characters");
        }
        let raw_sort = params.get("sort").map_or(R::DEFAULT_SORT, |s| s.trim());
        let (descending, key) = match raw_sort.strip_prefix('-') {
            Some(k) => (true, k),
            None => (false, raw_sort),
        };
        let sort = R::COLUMNS
            .iter()
            .find(|c| c.key == key && c.sort.is_some())
            .map(|c| c.key);
        if sort.is_none() {
            let keys: Vec<&str> = R::COLUMNS
                .iter()
                .filter(|c| c.sort.is_some())
                .map(|c| c.key)
                .collect();
            errors.add(
                "sort",
                format!(
                    "must be one of: {} (prefix - for descending)",
                    keys.join(", ")
                ),
            );
        }
        let page = int_param(params, "page", 1, 1..=1_000_000);
        let per_page = int_param(params, "per_page", 50, 1..=Paging::MAX_PER_PAGE);
        for r in [&page, &per_page] {
            if let Err(AppError::Validation(e)) = r {
                for fe in e.iter() {
                    errors.add(&fe.field, fe.message.clone());
                }
            }
        }
        let archived = match params.get("archived").map(String::as_str) {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                errors.add("archived", "must be true or false");
                false
            }
        };
        let mut filters = Vec::new();
        for f in R::FILTERS {
            let Some(raw) = params.get(f.param).filter(|s| !s.is_empty()) else {
                continue;
            };
            match f.kind {
                FilterKind::Id => match raw.parse::<i64>() {
                    Ok(v) if (1..=MAX_ID).contains(&v) => {
                        filters.push((f.param, f.column, v.into()))
                    }
                    _ => errors.add(f.param, "must be a numeric id"),
                },
                FilterKind::Text if raw.chars().count() <= 200 => {
                    filters.push((f.param, f.column, raw.clone().into()));
                }
                FilterKind::Text => errors.add(f.param, "must be at most 200 characters"),
                FilterKind::Bool => match raw.as_str() {
                    "true" => filters.push((f.param, f.column, true.into())),
                    "false" => filters.push((f.param, f.column, false.into())),
                    _ => errors.add(f.param, "must be true or false"),
                },
            }
        }
        let view = match params.get("view").filter(|s| !s.is_empty()) {
            None => None,
            Some(key) => {
                let found = R::VIEWS.iter().find(|(k, _, _)| k == key);
                if found.is_none() {
                    let keys: Vec<&str> = R::VIEWS.iter().map(|(k, _, _)| *k).collect();
                    errors.add(
                        "view",
                        if keys.is_empty() {
                            "this list has no saved views".to_owned()
                        } else {
                            format!("must be one of: {}", keys.join(", "))
                        },
                    );
                }
                found.map(|(k, _, cond)| (*k, *cond))
            }
        };
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        Ok(ListQuery {
            search,
            sort: sort.unwrap_or(R::DEFAULT_SORT),
            descending,
            paging: Paging {
                page: page.unwrap_or(1),
                per_page: per_page.unwrap_or(50),
            },
            archived,
            filters,
            view,
            viewer: None,
        })
    }
}

/// The SQL a list runs, with its arguments: the total, and one page.
pub struct ListSql {
    pub count: String,
    pub count_args: Vec<Arg>,
    pub page: String,
    pub page_args: Vec<Arg>,
}

/// Builds the SQL of a list (pure: the benchmark prints its plans).
///
/// Sort keys are columns of the object's own table (`t`), so the page is picked from that
/// table alone (an index walk) and only its rows are joined ("deferred join"): deep pages do
/// not join every row they skip.
pub fn list_sql<R: Resource>(backend: Backend, q: &ListQuery) -> ListSql {
    let mut conditions = vec![if q.archived {
        "t.archived_at IS NOT NULL".to_owned()
    } else {
        "t.archived_at IS NULL".to_owned()
    }];
    let mut args: Vec<Arg> = Vec::new();
    if let Some(search) = &q.search {
        match (backend, R::SQLITE_SEARCH) {
            // Trigrams need three characters; shorter terms scan.
            (Backend::Sqlite, Some(fts)) if search.chars().count() >= 3 => {
                conditions.push(fts.to_owned());
                args.push(fts_phrase(search).into());
            }
            _ => {
                conditions.push(R::SEARCH.to_owned());
                args.push(like_contains(search).into());
            }
        }
    }
    for (_, column, value) in &q.filters {
        args.push(value.clone());
        conditions.push(format!("{column} = ${}", args.len()));
    }
    if let Some((_, condition)) = q.view {
        if condition.contains("$viewer") {
            // No viewer (a system caller): "mine" matches nothing rather than everything.
            args.push(q.viewer.unwrap_or(0).into());
            conditions.push(condition.replace("$viewer", &format!("${}", args.len())));
        } else {
            conditions.push(condition.to_owned());
        }
    }
    let where_clause = conditions.join(" AND ");
    let (count, count_args) = if R::COUNTED && args.is_empty() && !q.archived {
        (
            "SELECT n FROM active_counts WHERE table_name = $1".to_owned(),
            crate::args![R::TABLE],
        )
    } else if let Some(limit) = R::COUNT_LIMIT {
        let mut count_args = args.clone();
        count_args.push((limit + 1).into());
        (
            format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM {} t WHERE {where_clause} LIMIT ${}) AS capped",
                R::TABLE,
                count_args.len()
            ),
            count_args,
        )
    } else {
        (
            format!("SELECT COUNT(*) FROM {} t WHERE {where_clause}", R::TABLE),
            args.clone(),
        )
    };
    let sort_sql = R::COLUMNS
        .iter()
        .find(|c| c.key == q.sort)
        .and_then(|c| c.sort)
        .unwrap_or("t.id");
    let dir = if q.descending { "DESC" } else { "ASC" };
    let order = format!("{sort_sql} {dir}, t.id {dir}");
    let mut page_args = args;
    page_args.push(q.paging.per_page.into());
    page_args.push(q.paging.offset().into());
    let n = page_args.len();
    let page = format!(
        "SELECT {select} FROM {from} WHERE t.id IN (
             SELECT t.id FROM {table} t WHERE {where_clause} ORDER BY {order} LIMIT ${limit} OFFSET ${offset}
         ) ORDER BY {order}",
        select = R::SELECT,
        from = R::FROM,
        table = R::TABLE,
        limit = n - 1,
        offset = n
    );
    ListSql {
        count,
        count_args,
        page,
        page_args,
    }
}

/// How many objects a list matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Total {
    pub count: i64,
    /// There are more than `count` (the type's [`Resource::COUNT_LIMIT`]).
    pub more: bool,
}

impl Total {
    /// "1,234" or "1,000+".
    pub fn shown(self) -> String {
        let digits = self.count.to_string();
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        if self.more {
            grouped.push('+');
        }
        grouped
    }
}

/// One page of a list and how many objects match.
pub async fn list<R: Resource>(db: &Db, q: &ListQuery) -> Result<(Vec<R::Row>, Total), AppError> {
    let sql = list_sql::<R>(db.backend(), q);
    let counted = db.fetch_i64(&sql.count, sql.count_args).await?.unwrap_or(0);
    let rows = db.fetch_all::<R::Row>(&sql.page, sql.page_args).await?;
    Ok((rows, total_of::<R>(counted)))
}

fn total_of<R: Resource>(counted: i64) -> Total {
    match R::COUNT_LIMIT {
        Some(limit) if counted > limit => Total {
            count: limit,
            more: true,
        },
        _ => Total {
            count: counted,
            more: false,
        },
    }
}

/// A search term as an FTS5 phrase: quoted, so its characters are matched literally.
fn fts_phrase(search: &str) -> String {
    format!("\"{}\"", search.replace('"', "\"\""))
}

/// Adds the names of referenced objects to audit changes of reference fields, so the
/// Audit Log reads "Jane Doe", not "3" (the ids stay for programs).
fn with_names<R: Resource>(
    mut changes: Map<String, Value>,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Map<String, Value> {
    for spec in R::FIELDS {
        if let (FieldKind::Ref(r), Some(Value::Object(change))) =
            (spec.kind, changes.get_mut(spec.name))
        {
            change.insert(
                "from_name".into(),
                before.get(r.name_key).cloned().unwrap_or(Value::Null),
            );
            change.insert(
                "to_name".into(),
                after.get(r.name_key).cloned().unwrap_or(Value::Null),
            );
        }
    }
    changes
}

fn require_writer<R: Resource>(actor: &EmployeeUser) -> Result<(), AppError> {
    if R::ADMIN_WRITES && !actor.is_admin {
        return Err(AppError::Forbidden(format!(
            "Only administrators can change {}.",
            R::PLURAL.to_lowercase()
        )));
    }
    Ok(())
}

fn conflict<R: Resource>(e: AppError) -> AppError {
    match e {
        AppError::Database(db) if is_unique_violation(&db) => AppError::Conflict(format!(
            "Another {} already uses one of these values.",
            R::SINGULAR.to_lowercase()
        )),
        other => other,
    }
}

/// The outcome of a create or change.
pub struct Written {
    pub id: i64,
    pub json: Map<String, Value>,
    /// A newly made invitation link, shown once.
    pub invitation_url: Option<String>,
}

/// Creates an object from a submitted whole object.
pub async fn create<R: Resource>(
    state: &AppState,
    actor: Actor<'_>,
    input: &Map<String, Value>,
) -> Result<Written, AppError> {
    if let Some(a) = actor {
        require_writer::<R>(a)?;
    }
    let draft = R::parse(input)?;
    let mut tx = state.db.begin().await?;
    R::check(&mut tx, None, &draft).await?;
    let id = R::insert(&mut tx, &draft, now())
        .await
        .map_err(conflict::<R>)?;
    let row = fetch_in::<R>(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let json = json_of::<R>(&row);
    audit::record(
        &mut tx,
        R::PATH,
        id,
        "created",
        accord_domain::audit::created(&writable::<R>(&json)),
        actor,
    )
    .await?;
    let mut ctx = WriteContext {
        config: &state.config,
        actor,
        announce: Vec::new(),
    };
    let invitation_url = R::after_write(&mut tx, &mut ctx, id, None, &json).await?;
    tx.commit().await?;
    crate::notifications::announce(&state.db, ctx.announce).await;
    Ok(Written {
        id,
        json,
        invitation_url,
    })
}

/// Changes an object: `patch` is merged into its current fields and the whole is validated
/// again, so a partial change can never leave an invalid object.
pub async fn update<R: Resource>(
    state: &AppState,
    actor: Actor<'_>,
    id: i64,
    patch: &Map<String, Value>,
) -> Result<Written, AppError> {
    if let Some(a) = actor {
        require_writer::<R>(a)?;
    }
    let mut tx = state.db.begin().await?;
    let before_row = fetch_in::<R>(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if before_row.times().archived_at.is_some() {
        return Err(AppError::Conflict(format!(
            "This {} is archived; restore it before changing it.",
            R::SINGULAR.to_lowercase()
        )));
    }
    let before = json_of::<R>(&before_row);
    let mut input = writable::<R>(&before);
    // Unknown keys stay in so that parsing reports them.
    for (k, v) in patch {
        input.insert(k.clone(), v.clone());
    }
    let draft = R::parse(&input)?;
    R::check(&mut tx, Some(id), &draft).await?;
    R::update(&mut tx, id, &draft, now())
        .await
        .map_err(conflict::<R>)?;
    let after_row = fetch_in::<R>(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let json = json_of::<R>(&after_row);
    let changes = with_names::<R>(
        accord_domain::audit::changes(&writable::<R>(&before), &writable::<R>(&json)),
        &before,
        &json,
    );
    if !changes.is_empty() {
        audit::record(&mut tx, R::PATH, id, "updated", changes, actor).await?;
    }
    let mut ctx = WriteContext {
        config: &state.config,
        actor,
        announce: Vec::new(),
    };
    let invitation_url = R::after_write(&mut tx, &mut ctx, id, Some(&before), &json).await?;
    tx.commit().await?;
    crate::notifications::announce(&state.db, ctx.announce).await;
    Ok(Written {
        id,
        json,
        invitation_url,
    })
}

/// Archives (`archive = true`) or restores an object. Nothing is deleted.
pub async fn set_archived<R: Resource>(
    state: &AppState,
    actor: &EmployeeUser,
    id: i64,
    archive: bool,
) -> Result<Map<String, Value>, AppError> {
    require_writer::<R>(actor)?;
    let mut tx = state.db.begin().await?;
    let row = fetch_in::<R>(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if row.times().archived_at.is_some() != archive {
        if archive {
            R::check_archive(&mut tx, id, actor).await?;
        }
        let sql = if archive {
            format!("UPDATE {} SET archived_at = $1 WHERE id = $2", R::TABLE)
        } else {
            format!(
                "UPDATE {} SET archived_at = NULL, updated_at = $1 WHERE id = $2",
                R::TABLE
            )
        };
        tx.execute(&sql, crate::args![now(), id]).await?;
        let action = if archive { "archived" } else { "restored" };
        audit::record(&mut tx, R::PATH, id, action, Map::new(), Some(actor)).await?;
    }
    let row = fetch_in::<R>(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(json_of::<R>(&row))
}

/// Does the object exist (archived or not)?
pub async fn exists<T: ObjectType>(db: &Db, id: i64) -> Result<bool, AppError> {
    Ok(db
        .fetch_i64(
            &format!("SELECT id FROM {} WHERE id = $1", T::TABLE),
            crate::args![id],
        )
        .await?
        .is_some())
}

/// Checks inside a transaction that a referenced object exists and is not archived.
pub async fn check_ref(
    tx: &mut Tx,
    errors: &mut FieldErrors,
    field: &str,
    table: &str,
    id: Option<i64>,
    what: &str,
) -> Result<(), AppError> {
    if let Some(id) = id {
        let found = tx
            .fetch_i64(
                &format!("SELECT id FROM {table} WHERE id = $1 AND archived_at IS NULL"),
                crate::args![id],
            )
            .await?;
        if found.is_none() {
            errors.add(field, format!("There is no {what} with id {id}"));
        }
    }
    Ok(())
}

pub mod api;
pub mod pages;
