//! Without `--upstream`: JSON echo handlers, so the gateway can be tried with nothing behind it.

use auth_core::policy::Principal;
use axum::Json;
use axum::extract::Request;
use serde_json::{Value, json};

/// Echoes what the gateway saw: method, path, query, and who the request was authenticated as.
pub(crate) async fn echo(request: Request) -> Json<Value> {
    let principal = request.extensions().get::<Principal>();
    Json(json!({
        "method": request.method().as_str(),
        "path": request.uri().path(),
        "query": request.uri().query(),
        "subject": principal.map(Principal::subject),
        "auth_method": principal.map(Principal::method),
    }))
}
