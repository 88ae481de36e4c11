//! The console's pages, as maud templates: every value is escaped on its way
//! into the HTML. No page loads anything from elsewhere, and none carries an
//! inline script or style (the Content-Security-Policy forbids both).

use crate::domain::admin::{LiveSession, Paging, UserPage};
use crate::domain::audit::{AuditRecord, EventKind};
use crate::domain::clock::UnixTime;
use crate::domain::user::User;
use maud::{html, Markup, DOCTYPE};

/// Which part of the console a page belongs to (the navigation's mark).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Users,
    NewUser,
    Audit,
}

/// What every page of a signed-in staff user shows around its content.
pub struct Frame<'a> {
    pub user: &'a User,
    pub csrf: &'a str,
    pub section: Option<Section>,
}

/// A message at the top of a page.
pub enum Notice {
    Ok(String),
    Error(String),
}

pub fn when(t: UnixTime) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// How a user is named on a page: username, else phone, else email.
pub fn name_of(u: &User) -> String {
    u.username
        .clone()
        .or_else(|| u.phone.as_ref().map(|p| p.as_str().to_owned()))
        .or_else(|| u.email.clone())
        .unwrap_or_else(|| format!("user {}", u.id.0))
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · accountd admin" }
            link rel="stylesheet" href="/admin/static/console.css";
            script src="/admin/static/console.js" defer {}
        }
    }
}

fn notice(n: &Option<Notice>) -> Markup {
    html! {
        @match n {
            Some(Notice::Ok(text)) => div.notice.ok role="status" { (text) },
            Some(Notice::Error(text)) => div.notice.error role="alert" { (text) },
            None => {},
        }
    }
}

/// A page of the signed-in console.
pub fn page(frame: &Frame<'_>, title: &str, flash: &Option<Notice>, content: Markup) -> Markup {
    let here = |s: Section| frame.section == Some(s);
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header.top {
                    a.brand href="/admin/users" { "accountd admin" }
                    nav {
                        a.here[here(Section::Users)] href="/admin/users" { "Users" }
                        a.here[here(Section::NewUser)] href="/admin/users/new" { "New user" }
                        a.here[here(Section::Audit)] href="/admin/audit" { "Audit trail" }
                    }
                    span.who { "Signed in as " strong { (name_of(frame.user)) } }
                    form method="post" action="/admin/logout" {
                        input type="hidden" name="csrf" value=(frame.csrf);
                        button.small type="submit" { "Sign out" }
                    }
                }
                main {
                    (notice(flash))
                    (content)
                }
            }
        }
    }
}

/// A page with no navigation: the sign-in, refusals.
pub fn bare(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body { main { (content) } }
        }
    }
}

/// What the sign-in form shows again after a failed attempt.
#[derive(Default)]
pub struct SignInForm<'a> {
    pub username: &'a str,
    /// A code was sent: ask for it.
    pub code_sent: bool,
    pub notice: Option<Notice>,
}

pub fn sign_in(csrf: &str, form: &SignInForm<'_>) -> Markup {
    bare(
        "Sign in",
        html! {
            div.signin {
                h1 { "accountd admin" }
                div.card {
                    (notice(&form.notice))
                    form method="post" action="/admin/login" {
                        input type="hidden" name="csrf" value=(csrf);
                        label for="username" { "Username" }
                        input #username type="text" name="username" value=(form.username)
                            autocomplete="username" required autofocus[form.username.is_empty()];
                        label for="password" { "Password" }
                        input #password type="password" name="password"
                            autocomplete="current-password" required autofocus[!form.username.is_empty()];
                        @if form.code_sent {
                            label for="code" { "Code from the SMS" }
                            input #code type="text" name="code" inputmode="numeric"
                                autocomplete="one-time-code" required;
                        }
                        button.primary type="submit" { "Sign in" }
                    }
                }
                p.muted { "Staff accounts only. Every sign-in is in the audit trail." }
            }
        },
    )
}

pub fn refused(title: &str, text: &str, csrf: Option<&str>) -> Markup {
    bare(
        title,
        html! {
            div.signin {
                h1 { (title) }
                div.card {
                    p { (text) }
                    @if let Some(csrf) = csrf {
                        form method="post" action="/admin/logout" {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Sign out" }
                        }
                    } @else {
                        p { a href="/admin/users" { "Back to the console" } }
                    }
                }
            }
        },
    )
}

fn badges(u: &User) -> Markup {
    html! {
        @if u.is_active { span.badge.ok { "active" } } @else { span.badge.off { "inactive" } }
        @if u.is_staff { " " span.badge.staff { "staff" } }
        @if u.otp_enabled { " " span.badge.otp { "SMS code" } }
    }
}

fn or_dash(v: Option<&str>) -> Markup {
    html! {
        @match v {
            Some(v) if !v.is_empty() => (v),
            _ => span.muted { "–" },
        }
    }
}

/// The users page: search, a table, and the pages.
pub fn users(
    frame: &Frame<'_>,
    flash: &Option<Notice>,
    q: &str,
    paging: Paging,
    found: &UserPage,
) -> Markup {
    let pages = paging.pages(found.total);
    let link = |page: i64| {
        let query = serde_urlencoded::to_string([
            ("q", q.to_owned()),
            ("page", page.to_string()),
            ("per_page", paging.per_page().to_string()),
        ])
        .unwrap_or_default();
        format!("/admin/users?{query}")
    };
    page(
        frame,
        "Users",
        flash,
        html! {
            h1 { "Users" }
            div.card {
                form.search method="get" action="/admin/users" role="search" {
                    input #q type="search" name="q" value=(q)
                        placeholder="Username, phone or email contains…" aria-label="Search users";
                    button.primary type="submit" { "Search" }
                    @if !q.is_empty() { a.button href="/admin/users" { "Clear" } }
                }
                @if found.users.is_empty() {
                    p.empty { @if q.is_empty() { "No users yet." } @else { "No user matches “" (q) "”." } }
                } @else {
                    table #users {
                        thead { tr {
                            th.num { "ID" } th { "Username" } th { "Phone" } th { "Email" }
                            th { "Name" } th { "Role" } th { "Status" } th { "Last sign-in" }
                        } }
                        tbody {
                            @for u in &found.users {
                                tr {
                                    td.num { a href={ "/admin/users/" (u.id.0) } { (u.id.0) } }
                                    td { a href={ "/admin/users/" (u.id.0) } { (or_dash(u.username.as_deref())) } }
                                    td.mono { (or_dash(u.phone.as_ref().map(|p| p.as_str()))) }
                                    td { (or_dash(u.email.as_deref())) }
                                    td { (or_dash(Some(&u.full_name()))) }
                                    td { (or_dash(u.role.as_deref())) }
                                    td { (badges(u)) }
                                    td { @match u.last_login { Some(t) => (when(t)), None => span.muted { "never" } } }
                                }
                            }
                        }
                    }
                }
                div.pager {
                    span #total { (found.total) " user" @if found.total != 1 { "s" } " · page " (paging.page()) " of " (pages) }
                    span.links {
                        @if paging.page() > 1 { a.button href=(link(paging.page() - 1)) { "← Previous" } }
                        @if paging.page() < pages { a.button href=(link(paging.page() + 1)) { "Next →" } }
                    }
                }
            }
        },
    )
}

/// What the user form shows: the user's values, or what was typed.
#[derive(Default)]
pub struct UserFields {
    pub username: String,
    pub email: String,
    pub phone: String,
    pub first_name: String,
    pub last_name: String,
    pub role: String,
    pub profile: String,
    pub otp_enabled: bool,
    pub is_staff: bool,
    pub is_active: bool,
}

impl UserFields {
    pub fn of(u: &User) -> Self {
        Self {
            username: u.username.clone().unwrap_or_default(),
            email: u.email.clone().unwrap_or_default(),
            phone: u
                .phone
                .as_ref()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            role: u.role.clone().unwrap_or_default(),
            profile: serde_json::to_string_pretty(&u.profile).unwrap_or_else(|_| "{}".into()),
            otp_enabled: u.otp_enabled,
            is_staff: u.is_staff,
            is_active: u.is_active,
        }
    }
}

fn user_fields(f: &UserFields, creating: bool) -> Markup {
    html! {
        div.grid {
            div {
                label for="username" { "Username" }
                input #username type="text" name="username" value=(f.username) autocomplete="off";
                label for="email" { "Email" }
                input #email type="email" name="email" value=(f.email) autocomplete="off";
                label for="phone" { "Phone (E.164, e.g. +255712345678)" }
                input #phone type="tel" name="phone" value=(f.phone) autocomplete="off";
                label for="role" { "Role" }
                input #role type="text" name="role" value=(f.role);
            }
            div {
                label for="first_name" { "First name" }
                input #first_name type="text" name="first_name" value=(f.first_name);
                label for="last_name" { "Last name" }
                input #last_name type="text" name="last_name" value=(f.last_name);
                label for="profile" { "Profile (a JSON object)" }
                textarea #profile name="profile" spellcheck="false" { (f.profile) }
            }
        }
        label.check { input type="checkbox" name="otp_enabled" value="true" checked[f.otp_enabled]; "Asks for an SMS code after the password" }
        label.check { input type="checkbox" name="is_staff" value="true" checked[f.is_staff]; "Staff: may sign in to this console" }
        @if creating {
            label.check { input type="checkbox" name="is_active" value="true" checked[f.is_active]; "Active" }
            label for="password" { "Password (optional; at least 8 characters, not a common one)" }
            input #password type="password" name="password" autocomplete="new-password";
        }
    }
}

pub fn new_user(frame: &Frame<'_>, flash: &Option<Notice>, fields: &UserFields) -> Markup {
    page(
        frame,
        "New user",
        flash,
        html! {
            h1 { "New user" }
            div.card {
                form method="post" action="/admin/users" {
                    input type="hidden" name="csrf" value=(frame.csrf);
                    (user_fields(fields, true))
                    p { button.primary type="submit" { "Create user" } }
                }
            }
        },
    )
}

fn audit_table(records: &[AuditRecord], with_user: bool) -> Markup {
    html! {
        @if records.is_empty() {
            p.empty { "Nothing recorded." }
        } @else {
            table.audit {
                thead { tr {
                    th { "Time" } th { "Event" } th { "Outcome" }
                    @if with_user { th { "User" } }
                    th { "Via" } th { "Client" } th { "Detail" }
                } }
                tbody {
                    @for r in records {
                        tr {
                            td.when { (when(r.time)) }
                            td { (r.event) }
                            td { @if r.outcome == "success" { span.badge.ok { (r.outcome) } } @else { span.badge.off { (r.outcome) } } }
                            @if with_user {
                                td { @match r.user { Some(u) => a href={ "/admin/users/" (u.0) } { (u.0) }, None => span.muted { "–" } } }
                            }
                            td { (r.contract) }
                            td.mono { (r.client) }
                            td.mono { @if let Some(d) = &r.detail { (serde_json::Value::Object(d.clone()).to_string()) } }
                        }
                    }
                }
            }
        }
    }
}

/// Everything about one user: details, actions, sessions, audit trail, forms.
pub struct UserView<'a> {
    pub user: &'a User,
    pub sessions: &'a [LiveSession],
    pub audit: &'a [AuditRecord],
    /// The edit form's values (the user's, or what was typed).
    pub fields: UserFields,
}

pub fn user(frame: &Frame<'_>, flash: &Option<Notice>, v: &UserView<'_>) -> Markup {
    let u = v.user;
    let base = format!("/admin/users/{}", u.id.0);
    let action = |verb: &str| format!("{base}/{verb}");
    let csrf = frame.csrf;
    page(
        frame,
        &name_of(u),
        flash,
        html! {
            h1 { (name_of(u)) " " (badges(u)) }
            div.actions {
                @if u.is_active {
                    form.inline method="post" action=(action("deactivate")) {
                        input type="hidden" name="csrf" value=(csrf);
                        button #deactivate type="submit" { "Deactivate" }
                    }
                } @else {
                    form.inline method="post" action=(action("reactivate")) {
                        input type="hidden" name="csrf" value=(csrf);
                        button #reactivate type="submit" { "Reactivate" }
                    }
                }
                form.inline method="post" action=(action("logout")) {
                    input type="hidden" name="csrf" value=(csrf);
                    button #logout-everywhere type="submit" { "Log out everywhere" }
                }
                form.inline method="post" action=(action("unlock")) {
                    input type="hidden" name="csrf" value=(csrf);
                    button #unlock type="submit" { "Unlock sign-in" }
                }
                form.inline method="post" action=(action("delete"))
                    data-confirm="Delete this user and everything of theirs? This cannot be undone." {
                    input type="hidden" name="csrf" value=(csrf);
                    button.danger #delete type="submit" { "Delete" }
                }
            }
            div.grid {
                div.card {
                    h2 { "Details" }
                    dl.fields #details {
                        dt { "ID" } dd { (u.id.0) }
                        dt { "Username" } dd { (or_dash(u.username.as_deref())) }
                        dt { "Email" } dd { (or_dash(u.email.as_deref())) }
                        dt { "Phone" } dd.mono { (or_dash(u.phone.as_ref().map(|p| p.as_str()))) }
                        dt { "Name" } dd { (or_dash(Some(&u.full_name()))) }
                        dt { "Role" } dd { (or_dash(u.role.as_deref())) }
                        dt { "Joined" } dd { (when(u.date_joined)) }
                        dt { "Last sign-in" } dd { @match u.last_login { Some(t) => (when(t)), None => span.muted { "never" } } }
                        dt { "Password" } dd { @if u.password_hash.is_some() { "set" } @else { span.muted { "none" } } }
                        dt { "Profile" } dd.mono { (serde_json::Value::Object(u.profile.clone()).to_string()) }
                    }
                }
                div.card {
                    h2 { "Set a new password" }
                    p.muted { "Every token and session issued before ends." }
                    form method="post" action=(action("password")) {
                        input type="hidden" name="csrf" value=(csrf);
                        label for="new_password" { "New password" }
                        input #new_password type="password" name="password" autocomplete="new-password" required;
                        p { button.primary #set-password type="submit" { "Set password" } }
                    }
                }
            }
            div.card {
                h2 { "Signed in (" (v.sessions.len()) ")" }
                @if v.sessions.is_empty() {
                    p.empty #no-sessions { "No live session or refresh token." }
                } @else {
                    table #sessions {
                        thead { tr { th { "Kind" } th { "ID" } th { "Began" } th { "Last refresh" } th { "Expires" } th {} } }
                        tbody {
                            @for s in v.sessions {
                                tr {
                                    td { (s.kind.as_str().replace('_', " ")) }
                                    td.mono { (s.id) }
                                    td.when { @match s.created_at { Some(t) => (when(t)), None => span.muted { "–" } } }
                                    td.when { @match s.last_used { Some(t) => (when(t)), None => span.muted { "–" } } }
                                    td.when { (when(s.expires_at)) }
                                    td {
                                        form.inline method="post" action={ "/admin/sessions/" (s.id) "/end" } {
                                            input type="hidden" name="csrf" value=(csrf);
                                            button.small.danger type="submit" { "End" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            div.card {
                h2 { "Edit" }
                form method="post" action=(base) {
                    input type="hidden" name="csrf" value=(csrf);
                    (user_fields(&v.fields, false))
                    p { button.primary #save type="submit" { "Save changes" } }
                }
            }
            div.card {
                h2 { "Audit trail " a.muted href={ "/admin/audit?user=" (u.id.0) } { "(all)" } }
                (audit_table(v.audit, false))
            }
        },
    )
}

/// The audit page's filters as given.
#[derive(Default)]
pub struct AuditQuery {
    pub event: String,
    pub user: String,
    pub since: String,
}

pub fn audit(
    frame: &Frame<'_>,
    flash: &Option<Notice>,
    q: &AuditQuery,
    records: &[AuditRecord],
    older: Option<String>,
) -> Markup {
    page(
        frame,
        "Audit trail",
        flash,
        html! {
            h1 { "Audit trail" }
            div.card {
                form.filters method="get" action="/admin/audit" {
                    div {
                        label for="event" { "Event" }
                        select #event name="event" {
                            option value="" selected[q.event.is_empty()] { "any" }
                            @for k in EventKind::ALL {
                                option value=(k.as_str()) selected[q.event == k.as_str()] { (k.as_str()) }
                            }
                        }
                    }
                    div {
                        label for="user" { "User ID" }
                        input #user type="number" name="user" min="1" value=(q.user);
                    }
                    div {
                        label for="since" { "Since (UTC)" }
                        input #since type="datetime-local" name="since" value=(q.since);
                    }
                    div { button.primary type="submit" { "Filter" } " " a.button href="/admin/audit" { "Clear" } }
                }
            }
            div.card {
                (audit_table(records, true))
                @if let Some(href) = older {
                    div.pager { span {} span.links { a.button href=(href) { "Older →" } } }
                }
            }
        },
    )
}
