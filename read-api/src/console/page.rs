//! The page itself: one HTML shell with a view per task, its script and its stylesheet, all in
//! the binary. The shell holds no data; the views fill themselves with fragments.

use axum::http::header;
use axum::response::IntoResponse;
use maud::{html, Markup, DOCTYPE};

const SCRIPT: &str = include_str!("assets/console.js");
const STYLE: &str = include_str!("assets/console.css");

pub(super) async fn script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], SCRIPT)
}

pub(super) async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
}

/// A workspace id field, offering the caller's workspaces (the `#workspaces` list the script
/// fills); an auditor types any id.
fn workspace_field(any: &str) -> Markup {
    html! {
        label { "Workspace "
            input name="workspace_id" list="workspaces" size="38" placeholder=(any) autocomplete="off";
        }
    }
}

pub(super) async fn shell() -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Prism console" }
                link rel="stylesheet" href="/console/console.css";
                script src="/console/console.js" defer {}
            }
            body {
                header {
                    h1 { "Prism console" }
                    div #who {}
                    button #sign-out type="button" hidden { "Sign out" }
                }
                main {
                    section #signin hidden {
                        h2 { "Sign in" }
                        p { "With your Prism account. The console shows what the API would show you." }
                        form #signin-form {
                            label { "Email " input name="email" type="email" autocomplete="username" required; }
                            label { "Password " input name="password" type="password" autocomplete="current-password" required; }
                            button type="submit" { "Sign in" }
                        }
                        p #signin-error .error role="alert" {}
                    }
                    div #app hidden {
                        datalist #workspaces {}
                        nav {
                            a href="#timeline" { "Timeline" }
                            a href="#inspector" { "Inspector" }
                            a href="#verify" { "Verify" }
                            a href="#projections" { "Projections" }
                            a href="#search" { "Search" }
                        }
                        section #view-timeline data-view="timeline" {
                            h2 { "Timeline" }
                            form data-fragment="/console/timeline" data-target="#timeline-out" {
                                (workspace_field("the whole log (auditors)"))
                                label { "Aggregate type "
                                    select name="aggregate_type" {
                                        option value="" { "any" }
                                        @for t in ["user", "workspace", "channel", "message", "conversation", "doc", "auth"] {
                                            option value=(t) { (t) }
                                        }
                                    }
                                }
                                label { "Aggregate id " input name="aggregate_id" size="36"; }
                                label { "Event type " input name="type" placeholder="message.created or message."; }
                                label { "Actor " input name="actor" size="36" placeholder="user id"; }
                                label { "From " input name="from" type="datetime-local" step="1"; }
                                label { "To " input name="to" type="datetime-local" step="1"; }
                                input type="hidden" name="after";
                                button type="submit" { "Show" }
                                label .follow { input type="checkbox" name="follow" data-local; " Follow the head" }
                            }
                            div #timeline-out .out {}
                        }
                        section #view-inspector data-view="inspector" hidden {
                            h2 { "Aggregate inspector" }
                            form data-fragment="/console/inspect" data-target="#inspector-out" {
                                label { "Type "
                                    select name="type" {
                                        @for t in ["workspace", "channel", "message", "conversation", "doc", "user", "auth"] {
                                            option value=(t) { (t) }
                                        }
                                    }
                                }
                                label { "Id " input name="id" size="36" required; }
                                label { "State at position " input name="at" inputmode="numeric" placeholder="now"; }
                                label { "Compared with position " input name="diff_from" inputmode="numeric"; }
                                button type="submit" { "Inspect" }
                            }
                            div #inspector-out .out {}
                        }
                        section #view-verify data-view="verify" hidden {
                            h2 { "Audit verification" }
                            form data-fragment="/console/verify" data-target="#verify-out" {
                                (workspace_field("choose a workspace"))
                                button type="submit" { "Verify" }
                            }
                            div #verify-out .out {}
                        }
                        section #view-projections data-view="projections" hidden {
                            h2 { "Projections" }
                            form data-fragment="/console/projections" data-target="#projections-out" data-refresh="2000" {
                                button type="submit" { "Refresh" }
                            }
                            div #projections-out .out {}
                        }
                        section #view-search data-view="search" hidden {
                            h2 { "Search" }
                            form data-fragment="/console/search" data-target="#search-out" {
                                label { "Words " input name="q" type="search" maxlength="500" required; }
                                (workspace_field("all my workspaces"))
                                button type="submit" { "Search" }
                            }
                            div #search-out .out {}
                        }
                    }
                }
            }
        }
    }
}
