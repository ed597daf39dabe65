//! The OpenAPI 3 document of the HTTP API, generated from the handlers' annotations.

use axum::Json;
use utoipa::{
    Modify, OpenApi,
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use crate::{admin, auth, calls::ingest, http};

/// The whole HTTP API (the WebSocket protocol is described in the protocol crate).
#[derive(OpenApi)]
#[openapi(
    info(title = "Switchboard API", description = "Sessions of the console and the call ingest API of a PBX integration."),
    paths(
        http::healthz,
        auth::whoami, auth::sign_in, auth::sign_out,
        ingest::queue, ingest::list, ingest::answer, ingest::hold, ingest::transfer,
        ingest::clear, ingest::recall, ingest::events, ingest::night_service,
        admin::list_users, admin::add_user, admin::change_user, admin::reset_password,
        admin::import_directory, admin::sync_status, admin::sync_now, admin::get_settings,
        admin::put_settings, admin::audit_log,
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "session", description = "Signing in and out of the console"),
        (name = "calls", description = "Call ingest API for a PBX integration (bearer token)"),
        (name = "admin", description = "The Administration view (an admin's session cookie)"),
        (name = "server", description = "Operations"),
    )
)]
pub struct ApiDoc;

/// Declares the two ways of authenticating: the console's session cookie and the ingest token.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "ingest_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(auth::COOKIE))),
        );
    }
}

/// `GET /api/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
