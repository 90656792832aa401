//! The OpenAPI document: paths come from the handlers' `#[utoipa::path]`; this adds what is
//! common to all of them (info, bearer auth, and the problem responses that follow from an
//! operation's shape: 401/403 when authenticated, 404 with a path id, 412 with If-Match, 413/415/422
//! with a body). Handlers document only the answers particular to them.

use serde_json::{Value, json};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        ContentBuilder, OpenApi as Spec, Ref, RefOr, ResponseBuilder,
        path::{Parameter, ParameterIn},
        security::{Http, HttpAuthScheme, SecurityScheme},
    },
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Haki API",
        description = "Case management and program monitoring against the commercial sexual exploitation of children. \
Errors are RFC 9457 problem+json; lists use cursor pagination (`limit`, `cursor` → `next_cursor`); \
mutable resources carry an `ETag` and PATCH honours `If-Match`; POST honours `Idempotency-Key`.",
        license(name = "GNU Affero General Public License v3.0 only", identifier = "AGPL-3.0-only"),
        contact(name = "Haki programme team", url = "/docs/")
    ),
    servers((url = "/", description = "This server")),
    security(("bearer" = [])),
    components(schemas(
        crate::error::Problem,
        crate::error::FieldError,
        crate::error::ErrorCode,
        crate::cases::dto::CaseFlag,
        crate::cases::dto::CaseSort,
        crate::trainings::models::Audience,
        crate::trainings::models::TrainingTopic,
        crate::trainings::models::TrainingFormat,
        crate::referrals::models::ReferralStatus,
        crate::referrals::models::Urgency,
        crate::restoration::dto::FollowUpView
    )),
    tags(
        (name = "auth", description = "Login, the caller's own account"),
        (name = "users", description = "User accounts (admin)"),
        (name = "partners", description = "Partner organisations"),
        (name = "cases", description = "Cases, their stages, timeline and team"),
        (name = "prosecution", description = "Offences, suspects, charges and court sessions"),
        (name = "survivors", description = "Survivors (pseudonymous), their cases and aftercare team, the identity vault"),
        (name = "restoration", description = "Consent, services, assessments, closure and follow-up"),
        (name = "referrals", description = "Referrals from partner organisations: intake, triage, acceptance into a case"),
        (name = "indicators", description = "Program indicators, donor targets and the indicator report"),
        (name = "integration", description = "The change feed (and webhooks) for systems that sync with Haki"),
        (name = "reports", description = "The dashboard, alerts for each user and de-identified exports"),
        (name = "trainings", description = "Trainings and mentoring of justice-sector and community actors"),
        (name = "audit", description = "The audit trail"),
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
pub struct ApiDoc;

pub struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, spec: &mut Spec) {
        let components = spec.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "metrics",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The token configured as HAKI_METRICS_TOKEN (not a user's token)."))
                    .build(),
            ),
        );
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        for item in spec.paths.paths.values_mut() {
            // PATCH and PUT need If-Match (428 without); POSTs on one record honour it when sent.
            let operations = [
                (item.get.as_mut(), false),
                (item.post.as_mut(), false),
                (item.put.as_mut(), true),
                (item.patch.as_mut(), true),
                (item.delete.as_mut(), false),
            ];
            for (op, writes_in_place) in operations.into_iter().filter_map(|(op, w)| op.map(|op| (op, w))) {
                let public = op
                    .security
                    .as_ref()
                    .is_some_and(|s| s.iter().all(|r| r == &Default::default()));
                let has_body = op.request_body.is_some();
                let params: Vec<&Parameter> = op
                    .parameters
                    .iter()
                    .flatten()
                    .filter_map(|p| match p {
                        RefOr::T(p) => Some(p),
                        RefOr::Ref(_) => None,
                    })
                    .collect();
                let addresses_a_record = params.iter().any(|p| p.parameter_in == ParameterIn::Path);
                let conditional = params
                    .iter()
                    .any(|p| p.parameter_in == ParameterIn::Header && p.name.eq_ignore_ascii_case("If-Match"));
                let mut add = |status: &str| {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| problem(default_description(status)).into());
                };
                add("400");
                if !public {
                    add("401");
                    add("403");
                }
                if addresses_a_record {
                    add("404");
                }
                if conditional {
                    add("412");
                    if writes_in_place {
                        add("428");
                    }
                }
                if has_body {
                    add("413");
                    add("415");
                    add("422");
                }
                add("500");
                add("503");
            }
        }
    }
}

/// The whole spec, as served at `/openapi.json` and committed in `openapi/openapi.json`.
pub fn spec() -> Value {
    refine(crate::with_api(actix_web::App::new()).1)
}

/// `*`, or one or more entity tags as this API issues them (`"3"`, weak `W/"3"` accepted).
const IF_MATCH_PATTERN: &str = r#"^(\*|(W/)?"[0-9]+"(\s*,\s*(W/)?"[0-9]+")*)$"#;

/// What every response of a status means when a handler does not say more.
pub fn default_description(status: &str) -> &'static str {
    match status {
        "200" => "Success",
        "201" => "Created (`Location`, when sent, names the new record)",
        "204" => "Done; no content",
        "400" => "Malformed request (bad JSON, path or query, or an unknown query parameter)",
        "401" => "Missing, invalid or expired credentials",
        "403" => {
            "Your role lacks the permission this needs; `extensions.permission` names it (records out of reach answer 404)"
        }
        "404" => "No such record, or not within your reach",
        "409" => "Conflicts with the record's current state",
        "412" => "If-Match does not match the current ETag; read again and retry",
        "413" => "Body too large",
        "415" => "Body is not application/json",
        "422" => "Invalid fields; `errors` names each",
        "428" => "If-Match is required: send the ETag you read",
        "429" => "Too many requests; retry after `Retry-After` seconds",
        "500" => "Unexpected error (details are logged, never sent)",
        "503" => "Database unavailable",
        _ => "See the problem details",
    }
}

/// Shape rules that hold for the whole document, applied to its JSON form: one-line summaries,
/// a description on every response, header parameters as plain strings, list pages that refer
/// to their item schema, and response fields that are always present marked `required`.
pub fn refine(spec: Spec) -> Value {
    // Serialising the spec's own types cannot fail.
    let mut doc = serde_json::to_value(&spec).unwrap_or_default();
    refine_operations(&mut doc);
    refine_schemas(&mut doc);
    doc
}

fn refine_operations(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for (method, op) in item.iter_mut() {
            let Some(op) = op.as_object_mut() else { continue };
            // utoipa takes the doc comment's first paragraph as the summary; keep one sentence.
            if let Some(summary) = op.get("summary").and_then(Value::as_str).map(str::to_owned) {
                let flat = summary.split_whitespace().collect::<Vec<_>>().join(" ");
                let (first, rest) = match flat.split_once(". ") {
                    Some((first, rest)) => (format!("{first}."), rest.to_string()),
                    None => (flat.clone(), String::new()),
                };
                op.insert("summary".into(), Value::String(first));
                if !rest.is_empty() {
                    let description = match op.get("description").and_then(Value::as_str) {
                        Some(d) if !d.is_empty() => format!("{rest}\n\n{d}"),
                        _ => rest,
                    };
                    op.insert("description".into(), Value::String(description));
                }
            }
            // An optional body is absent when not wanted, never the JSON `null`.
            if let Some(content) = op.get_mut("requestBody").and_then(|b| b.get_mut("content")) {
                for media in content.as_object_mut().into_iter().flat_map(|c| c.values_mut()) {
                    if let Some(one_of) = media["schema"]["oneOf"].as_array()
                        && one_of.len() == 2
                        && one_of[1] == json!({"type": "null"})
                    {
                        media["schema"] = one_of[0].clone();
                    }
                }
            }
            // A PUT may create (an identity recorded the first time has no ETag yet); a PATCH never does.
            let writes_in_place = method == "patch";
            if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                for param in params.iter_mut().filter(|p| p["in"] == "header") {
                    match param["name"].as_str() {
                        Some("If-Match") => {
                            param["schema"] = json!({"type": "string", "minLength": 1, "pattern": IF_MATCH_PATTERN});
                            param["required"] = json!(writes_in_place);
                        }
                        Some("Idempotency-Key") => {
                            param["schema"] =
                                json!({"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"});
                        }
                        _ => param["schema"] = json!({"type": "string"}),
                    }
                }
            }
            if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
                for (status, response) in responses.iter_mut() {
                    let missing = response
                        .get("description")
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty);
                    if missing {
                        response["description"] = Value::String(default_description(status).into());
                    }
                }
            }
        }
    }
}

fn refine_schemas(doc: &mut Value) {
    // Schemas reachable from request bodies and parameters keep their optional fields; those
    // only ever sent by the server list every field as required (absent values are `null`).
    let mut requests = Vec::new();
    let mut responses = Vec::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for op in paths.values().filter_map(Value::as_object).flat_map(|i| i.values()) {
            collect_refs(&op["requestBody"], &mut requests);
            collect_refs(&op["parameters"], &mut requests);
            collect_refs(&op["responses"], &mut responses);
        }
    }
    let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) else {
        return;
    };
    let requests = closure(schemas, requests);
    let responses = closure(schemas, responses);
    let names: Vec<String> = schemas.keys().cloned().collect();
    for name in names {
        // `Page_Case` → its items are `Case`, by reference.
        if let Some(item) = name.strip_prefix("Page_")
            && schemas.contains_key(item)
            && let Some(items) = schemas[&name].pointer_mut("/properties/data/items")
        {
            *items = json!({"$ref": format!("#/components/schemas/{item}")});
        }
        if name == "DomainScores" {
            // Scores are whole tenths from 1.0 to 4.0 (`whole_tenths`): listed, since `multipleOf`
            // on a fraction is read differently by different validators.
            let tenths: Vec<Value> = (10..=40).map(|n| json!(f64::from(n) / 10.0)).collect();
            if let Some(props) = schemas[&name].get_mut("properties").and_then(Value::as_object_mut) {
                for score in props.values_mut() {
                    score["enum"] = Value::Array(tenths.clone());
                }
            }
        }
        for (_, field) in REQUIRED_WITH_OWN_ANSWER.iter().filter(|(schema, _)| *schema == name) {
            let required = schemas[&name]["required"].as_array_mut();
            match required {
                Some(list) => list.push(json!(field)),
                None => schemas[&name]["required"] = json!([field]),
            }
        }
        if let Some((_, fields, exactly_one)) = ALTERNATIVES.iter().find(|(schema, _, _)| *schema == name) {
            state_alternatives(&mut schemas[&name], fields, *exactly_one);
        }
        if responses.contains(&name) && !requests.contains(&name) {
            let schema = &mut schemas[&name];
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                let all: Vec<Value> = props.keys().cloned().map(Value::String).collect();
                schema["required"] = Value::Array(all);
            }
        }
    }
}

/// Required request fields the server reads as optional so that their absence gets its own
/// explanation rather than a bare "is required": (schema, field).
const REQUIRED_WITH_OWN_ANSWER: &[(&str, &str)] = &[("SubmitReferral", "consent_to_share")];

/// Request fields of which one must be given (the server answers 422 otherwise), stated in the
/// schema: (schema, fields, whether exactly one rather than at least one).
const ALTERNATIVES: &[(&str, &[&str], bool)] = &[
    ("CreateSurvivor", &["birth_year", "age_at_intake"], false),
    ("LinkSurvivor", &["survivor_id", "survivor"], true),
    ("MfaVerify", &["code", "recovery_code"], true),
    ("SubmitReferral", &["age", "birth_year"], false),
];

/// Adds `anyOf` branches, each requiring one of `fields` with a non-null value (and, for exactly
/// one, the others absent or null, which makes the branches exclusive).
fn state_alternatives(schema: &mut Value, fields: &[&str], exactly_one: bool) {
    let branches: Vec<Value> = fields
        .iter()
        .map(|field| {
            let mut properties = serde_json::Map::new();
            let property = &schema["properties"][field];
            assert!(
                property.is_object(),
                "ALTERNATIVES names `{field}`, which the schema lacks"
            );
            properties.insert(field.to_string(), non_null(property));
            if exactly_one {
                for other in fields.iter().filter(|f| *f != field) {
                    properties.insert(other.to_string(), json!({"type": "null"}));
                }
            }
            json!({"required": [field], "properties": properties})
        })
        .collect();
    schema["anyOf"] = Value::Array(branches);
}

/// The non-null form of a nullable property schema (`T | null` → `T`).
fn non_null(property: &Value) -> Value {
    if let Some(choices) = property.get("oneOf").and_then(Value::as_array)
        && let Some(choice) = choices.iter().find(|c| c.get("type") != Some(&json!("null")))
    {
        return choice.clone();
    }
    let mut plain = property.clone();
    if let Some(types) = plain.get("type").and_then(Value::as_array) {
        let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        plain["type"] = if kept.len() == 1 {
            kept[0].clone()
        } else {
            Value::Array(kept)
        };
    }
    plain
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref")
                && let Some(name) = r.strip_prefix("#/components/schemas/")
            {
                out.push(name.to_string());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Every schema name reachable from `start`.
fn closure(schemas: &serde_json::Map<String, Value>, start: Vec<String>) -> std::collections::BTreeSet<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut todo = start;
    while let Some(name) = todo.pop() {
        if seen.insert(name.clone())
            && let Some(schema) = schemas.get(&name)
        {
            collect_refs(schema, &mut todo);
        }
    }
    seen
}

/// The operations of the spec, by path template: what the 405 fallback (`Allow`) and the query
/// check (unknown parameters are a 400) consult, so both follow the documented contract.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

#[derive(Debug)]
struct Route {
    segments: Vec<Option<String>>,
    /// Upper-case method → the query parameters it documents.
    methods: std::collections::BTreeMap<String, Vec<String>>,
}

impl RouteTable {
    pub fn from_spec(spec: &Value) -> Self {
        let mut routes = Vec::new();
        for (path, item) in spec["paths"].as_object().into_iter().flatten() {
            let segments = path
                .split('/')
                .filter(|s| !s.is_empty())
                .map(|s| (!s.starts_with('{')).then(|| s.to_string()))
                .collect();
            let methods = item
                .as_object()
                .into_iter()
                .flatten()
                .map(|(method, op)| {
                    let query = op["parameters"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|p| p["in"] == "query")
                        .filter_map(|p| p["name"].as_str().map(str::to_owned))
                        .collect();
                    (method.to_uppercase(), query)
                })
                .collect();
            routes.push(Route { segments, methods });
        }
        RouteTable { routes }
    }

    fn find(&self, path: &str) -> Option<&Route> {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        self.routes.iter().find(|r| {
            r.segments.len() == parts.len()
                && r.segments
                    .iter()
                    .zip(&parts)
                    .all(|(seg, part)| seg.as_deref().is_none_or(|s| s == *part))
        })
    }

    /// The methods allowed on `path` (for `Allow`), when the path is documented.
    pub fn allowed(&self, path: &str) -> Option<String> {
        self.find(path)
            .map(|r| r.methods.keys().cloned().collect::<Vec<_>>().join(", "))
    }

    /// The query parameter names of `method path` that it does not document.
    pub fn unknown_query(&self, method: &str, path: &str, query: &str) -> Vec<String> {
        let Some(known) = self.find(path).and_then(|r| r.methods.get(method)) else {
            return Vec::new();
        };
        let mut unknown: Vec<String> = Vec::new();
        for key in url_keys(query).filter(|k| !known.contains(k)) {
            if !unknown.contains(&key) {
                unknown.push(key);
            }
        }
        unknown
    }
}

fn url_keys(query: &str) -> impl Iterator<Item = String> + '_ {
    form_urlencoded::parse(query.as_bytes()).map(|(k, _)| k.into_owned())
}
