//! The conventions both OpenAPI documents follow, applied in one place to what the route
//! annotations declare, so that no operation can forget one: the document is the contract
//! client generators and fuzzers (schemathesis runs in CI) read, and a request it allows is one
//! the server accepts.
//!
//! [`finish`] takes the document `utoipa` generated and makes sure that
//! - every `{name}` of a path is a declared path parameter (ids are UUIDs; an annotation may
//!   declare one more precisely, e.g. an enum), and a parameter of a query struct is `in: query`;
//! - every read declares `X-Min-Position` (and `?min_position`), every authenticated command
//!   `Idempotency-Key` and `If-Match`, with the syntax the server enforces;
//! - every answer the edge or the extractors can give is declared: 400 (a parameter or header
//!   that does not parse), 401 (no or a bad bearer), 415 and 422 (a JSON body of the wrong type
//!   or content), 412 (a stale `If-Match`), 409 (a position the log has not reached), 404 (a
//!   path id that is not there, or not the caller's), each with
//!   the error JSON's schema;
//! - operation ids are unique (generators name methods after them).
//!
//! Why a pass over the JSON rather than more annotations: the conventions are the server's
//! (its middleware and extractors), not any one route's, so they are declared where they are
//! enforced, once.

use serde_json::{json, Map, Value};

/// Which API a document describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Write,
    Read,
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// A log position as a header or query parameter (`X-Min-Position`, `Last-Event-ID`): the
/// wire carries text, so the contract says which text.
pub const POSITION_PATTERN: &str = "^[0-9]{1,18}$";
/// Every spelling of a UUID the server's parser (`uuid::Uuid::parse_str`) takes: simple,
/// hyphenated, braced and URN. JSON Schema 2020-12 treats `format` as a note, not a rule, so
/// the pattern is what makes `""` or `"00"` invalid for a tool.
pub const UUID_PATTERN: &str = concat!(
    "^([0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    "|\\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\\}",
    "|urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
);
/// `Idempotency-Key` as `write-api`'s `CommandHeaders` takes it.
pub const IDEMPOTENCY_KEY_PATTERN: &str = "^[!-~]{1,255}$";
/// `If-Match` as `write-api`'s `CommandHeaders` takes it: the version as an entity tag.
pub const IF_MATCH_PATTERN: &str = "^(W/)?(\"[0-9]{1,18}\"|[0-9]{1,18})$";

fn path_names(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_owned)
        .collect()
}

/// `get /v1/channels/{id}/messages` → `get_channels_id_messages`.
fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_owned();
    for seg in path.split('/').filter(|s| !s.is_empty() && *s != "v1") {
        id.push('_');
        id.extend(seg.trim_matches(|c| c == '{' || c == '}').chars().map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        }));
    }
    id
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

/// Gives every `format: uuid` string in the document the pattern of what the server parses.
fn uuid_patterns(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if o.get("format") == Some(&json!("uuid")) && !o.contains_key("pattern") {
                o.insert("pattern".into(), json!(UUID_PATTERN));
            }
            o.values_mut().for_each(uuid_patterns);
        }
        Value::Array(a) => a.iter_mut().for_each(uuid_patterns),
        _ => {}
    }
}

/// Takes `null` out of a parameter's schema (`utoipa` writes `Option<T>` as `T | null`).
fn not_null(schema: &mut Value) {
    if let Some(Value::Array(types)) = schema.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            schema["type"] = only;
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(options)) = schema.get_mut(key) {
            options.retain(|o| o.get("type") != Some(&json!("null")));
            if options.len() == 1 {
                let only = options.remove(0);
                if let Some(s) = schema.as_object_mut() {
                    s.remove(key);
                    if let Value::Object(o) = only {
                        s.extend(o);
                    }
                }
            }
        }
    }
}

/// An optional text parameter of the given syntax.
fn optional(name: &str, place: &str, description: &str, pattern: &str) -> Value {
    json!({
        "name": name, "in": place, "required": false, "description": description,
        "schema": {"type": "string", "pattern": pattern}
    })
}

fn has_param(params: &[Value], name: &str, place: &str) -> bool {
    params
        .iter()
        .any(|p| p["in"] == place && p["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
}

/// Applies the conventions to a generated document.
pub fn finish(mut doc: Value, api: Api) -> Value {
    let components = doc
        .as_object_mut()
        .map(|d| d.entry("components").or_insert_with(|| json!({})));
    if let Some(Value::Object(components)) = components {
        let schemes = components.entry("securitySchemes").or_insert_with(|| json!({}));
        schemes["api_key"] = json!({
            "type": "http", "scheme": "bearer", "bearerFormat": "prism_ API key",
            "description": "A workspace's API key, `Authorization: Bearer prism_…`: its scopes and workspace limit what it may do (403 insufficient_scope or api_key_not_allowed elsewhere)"
        });
        let schemas = components.entry("schemas").or_insert_with(|| json!({}));
        schemas["Error"] = json!({
            "type": "object",
            "required": ["error"],
            "properties": {"error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "description": "stable, machine-readable"},
                    "message": {"type": "string", "description": "for people"}
                }
            }}
        });
    }
    uuid_patterns(&mut doc);
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return doc;
    };
    for (path, item) in paths.iter_mut() {
        let names = path_names(path);
        let Some(item) = item.as_object_mut() else { continue };
        for method in METHODS {
            let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) else {
                continue;
            };
            conform(op, method, path, &names, api);
        }
    }
    doc
}

fn conform(op: &mut Map<String, Value>, method: &str, path: &str, names: &[String], api: Api) {
    op.insert("operationId".into(), json!(operation_id(method, path)));
    let public = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().all(|r| r.as_object().is_some_and(Map::is_empty)));
    if !public {
        // A person's access token or a workspace's API key, both as a bearer.
        op.insert("security".into(), json!([{"bearer": []}, {"api_key": []}]));
    }
    let mut params: Vec<Value> = op
        .remove("parameters")
        .and_then(|p| match p {
            Value::Array(a) => Some(a),
            _ => None,
        })
        .unwrap_or_default();
    for p in &mut params {
        // An optional parameter is absent or a value: the wire has no null (`?x=null` is text).
        if let Some(schema) = p.get_mut("schema") {
            not_null(schema);
        }
        // A field of an `IntoParams` query struct comes out `in: path` unless told otherwise.
        if p["in"] == "path" && !p["name"].as_str().is_some_and(|n| names.iter().any(|m| m == n)) {
            p["in"] = json!("query");
        }
        if p["in"] == "path" {
            p["required"] = json!(true);
        }
    }
    // One declaration per (name, place): the first, an annotation's own, wins.
    let mut seen = std::collections::HashSet::new();
    params.retain(|p| {
        seen.insert((
            p["name"].as_str().unwrap_or_default().to_ascii_lowercase(),
            p["in"].as_str().unwrap_or_default().to_owned(),
        ))
    });
    for name in names {
        if !has_param(&params, name, "path") {
            params.push(json!({
                "name": name, "in": "path", "required": true,
                "schema": {"type": "string", "format": "uuid"}
            }));
        }
    }
    let mut statuses: Vec<(&str, &str)> = Vec::new();
    match api {
        Api::Read if method == "get" => {
            params.retain(|p| {
                !(p["in"] == "header"
                    && p["name"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case("x-min-position")))
            });
            params.push(optional("X-Min-Position", "header",
                "wait (bounded) until what this read reads has applied this position of the log; 409 if the log has not reached it",
                POSITION_PATTERN));
            if !has_param(&params, "min_position", "query") {
                params.push(optional(
                    "min_position",
                    "query",
                    "X-Min-Position as a query parameter (the header wins)",
                    POSITION_PATTERN,
                ));
            }
            statuses.push(("409", "position_not_reached: the log has not reached X-Min-Position"));
        }
        Api::Write if !public => {
            if !has_param(&params, "Idempotency-Key", "header") {
                params.push(optional(
                    "Idempotency-Key",
                    "header",
                    "a repeat with the same key returns the first answer and appends nothing",
                    IDEMPOTENCY_KEY_PATTERN,
                ));
            }
            if !has_param(&params, "If-Match", "header") {
                params.push(optional(
                    "If-Match",
                    "header",
                    "the aggregate's version as an entity tag (`\"3\"`): 412 when it moved on",
                    IF_MATCH_PATTERN,
                ));
            }
            statuses.push(("412", "version_mismatch: If-Match is stale"));
            // A domain rule the command breaks (a name without a visible character, a state
            // the aggregate is not in).
            statuses.push(("422", "validation_failed, or a rule of the domain"));
            statuses.push(("409", "conflict"));
        }
        _ => {}
    }
    if !names.is_empty() {
        statuses.push(("404", "not_found: no such resource, or not the caller's to see"));
    }
    if !params.is_empty() || op.contains_key("requestBody") {
        statuses.push(("400", "a parameter, header or body that does not parse"));
    }
    if !public {
        statuses.push((
            "401",
            "unauthenticated, invalid_token, token_expired or session_revoked",
        ));
    }
    if op.contains_key("requestBody") {
        statuses.push(("415", "unsupported_media_type"));
        statuses.push(("422", "validation_failed"));
    }
    op.insert("parameters".into(), Value::Array(params));
    let responses = op.entry("responses").or_insert_with(|| json!({}));
    if let Some(responses) = responses.as_object_mut() {
        for (status, description) in statuses {
            responses
                .entry(status.to_owned())
                .or_insert_with(|| json!({"description": description}));
        }
        for (status, answer) in responses.iter_mut() {
            let error = status.starts_with('4') || status.starts_with('5');
            if let (true, Some(answer)) = (error, answer.as_object_mut()) {
                if !answer.contains_key("content") {
                    let description = answer
                        .get("description")
                        .and_then(Value::as_str)
                        .filter(|d| !d.is_empty())
                        .unwrap_or(status)
                        .to_owned();
                    *answer = error_response(&description).as_object().cloned().unwrap_or_default();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_follow_the_path() {
        assert_eq!(
            operation_id("get", "/v1/channels/{id}/messages"),
            "get_channels_id_messages"
        );
        assert_eq!(
            operation_id("post", "/v1/auth/password-reset/confirm"),
            "post_auth_password_reset_confirm"
        );
    }

    #[test]
    fn path_parameters_are_declared_and_query_fields_moved() {
        let doc = json!({"paths": {"/v1/x/{id}/{type}": {"get": {
            "parameters": [
                {"name": "type", "in": "path", "schema": {"type": "string", "enum": ["a"]}},
                {"name": "limit", "in": "path", "schema": {"type": "integer"}}
            ],
            "responses": {"200": {"description": ""}}
        }}}});
        let doc = finish(doc, Api::Read);
        let op = &doc["paths"]["/v1/x/{id}/{type}"]["get"];
        let params = op["parameters"].as_array().expect("parameters");
        let find = |n: &str| params.iter().find(|p| p["name"] == n).expect(n).clone();
        assert_eq!(find("limit")["in"], "query");
        assert_eq!(find("type")["schema"]["enum"][0], "a");
        assert_eq!(find("id")["schema"]["format"], "uuid");
        let uuid = regex::Regex::new(UUID_PATTERN).expect("pattern");
        for ok in [
            "01a22d5f-abc8-770b-8722-9f5377da9950",
            "01a22d5fabc8770b87229f5377da9950",
            "{01a22d5f-abc8-770b-8722-9f5377da9950}",
            "urn:uuid:01a22d5f-abc8-770b-8722-9f5377da9950",
        ] {
            assert!(uuid.is_match(ok) && uuid::Uuid::parse_str(ok).is_ok(), "{ok}");
        }
        for bad in ["", "00", "01a22d5f-abc8-770b-8722-9f5377da995"] {
            assert!(!uuid.is_match(bad) && uuid::Uuid::parse_str(bad).is_err(), "{bad}");
        }
        assert_eq!(find("X-Min-Position")["schema"]["pattern"], POSITION_PATTERN);
        assert!(op["responses"]["401"]["content"]["application/json"].is_object());
    }
}
