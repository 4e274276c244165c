#![allow(missing_docs, clippy::unwrap_used, clippy::print_stdout)]
use http::HeaderMap;
use server_middleware::{AuthHandle, AuthState};
#[test]
fn sizes() {
    let handle = AuthHandle::new(AuthState::builder().build().unwrap());
    let headers = HeaderMap::new();
    let f = handle.authorize("/api/x", &headers, None);
    println!("authorize future: {}", std::mem::size_of_val(&f));
    let f2 = handle.authorize_class(auth_core::policy::RouteClass::Consumption, &headers, None);
    println!("authorize_class future: {}", std::mem::size_of_val(&f2));
    println!(
        "request: {}",
        std::mem::size_of::<http::Request<axum::body::Body>>()
    );
}
