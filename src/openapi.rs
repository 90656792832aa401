//! The OpenAPI document: paths come from the handlers' `#[utoipa::path]`; this adds what is
//! common to all of them (info, bearer auth, and the problem responses that follow from an
//! operation's shape: 401/403 when authenticated, 404 with a path id, 412 with If-Match, 413/415/422
//! with a body). Handlers document only the answers particular to them.

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
        license(name = "AGPL-3.0-only")
    ),
    servers((url = "/", description = "This server")),
    security(("bearer" = [])),
    components(schemas(crate::error::Problem, crate::error::FieldError)),
    tags(
        (name = "auth", description = "Login, the caller's own account"),
        (name = "users", description = "User accounts (admin)"),
        (name = "partners", description = "Partner organisations"),
        (name = "cases", description = "Cases, their stages, timeline and team"),
        (name = "prosecution", description = "Offences, suspects, charges and court sessions"),
        (name = "survivors", description = "Survivors (pseudonymous), their cases and aftercare team, the identity vault"),
        (name = "restoration", description = "Consent, services, assessments, closure and follow-up"),
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
            let operations = [
                item.get.as_mut(),
                item.post.as_mut(),
                item.put.as_mut(),
                item.patch.as_mut(),
                item.delete.as_mut(),
            ];
            for op in operations.into_iter().flatten() {
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
                let mut add = |status: &str, description: &str| {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| problem(description).into());
                };
                add("400", "Malformed request (bad JSON, path or query)");
                if !public {
                    add("401", "Missing, invalid or expired credentials");
                    add("403", "Your role may not do this (records out of reach answer 404)");
                }
                if addresses_a_record {
                    add("404", "No such record, or not within your reach");
                }
                if conditional {
                    add("412", "If-Match does not match the current ETag; read again and retry");
                }
                if has_body {
                    add("413", "Body too large");
                    add("415", "Body is not application/json");
                    add("422", "Invalid fields; `errors` names each");
                }
                add("500", "Unexpected error (details are logged, never sent)");
                add("503", "Database unavailable");
            }
        }
    }
}

/// The whole spec, as served at `/openapi.json` and committed in `openapi/openapi.json`.
pub fn spec() -> Spec {
    crate::with_api(actix_web::App::new()).1
}
