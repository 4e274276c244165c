//! [`App`]: the gateway as one service, the router with what must run before routing in front.

use axum::Router;
use server_middleware::{CanonicalRequest, CanonicalRequestLayer, Cors, CorsLayer, CorsSettings};
use tower::Layer;
use tower::util::Either;

/// The gateway as a service: `serve::router`'s routes, all behind the auth layer (which lets
/// public paths through), with the canonical-request layer and, when configured, CORS in front
/// of the router.
pub(crate) type App = Either<Cors<CanonicalRequest<Router>>, CanonicalRequest<Router>>;

/// Puts the canonical-request layer, and CORS when `cors` is set, in front of `router`. In
/// front of the router, not on it: axum runs `Router::layer` middleware after routing, so the
/// router would match the path as sent (`/%68ealth`, `/x/../health`) and hand keygate's own
/// routes to the upstream. CORS is outermost, so that every answer to an allowed origin — a
/// 400 for a bad path too — can be read by the page, and preflights never meet the policy.
pub(crate) fn wrap(router: Router, cors: Option<&CorsSettings>) -> App {
    let canonical = CanonicalRequestLayer::new().layer(router);
    match cors {
        Some(cors) => Either::Left(CorsLayer::new(cors).layer(canonical)),
        None => Either::Right(canonical),
    }
}
