//! reference §5 as a matrix: enforce flags × configured mechanisms × credential kind × route class,
//! checked against an oracle written from the spec (not from auth-core's planner).
// Test helpers outside `#[test]` functions may panic on broken fixtures too.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use auth_core::apikey::AdminCredential;
use auth_core::jwt::JwtAlgorithm;
use auth_core::secrecy::SecretString;
use common::{JwtKeys, Key, bearer, echo_app, get, jwt_keys};
use server_middleware::{AuthHandle, AuthState, StateError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Ingest,
    Consumption,
    Admin,
    Public,
}

impl Class {
    fn path(self) -> &'static str {
        match self {
            Self::Ingest => "/ingest/events",
            Self::Consumption => "/api/report",
            Self::Admin => "/admin/things",
            Self::Public => "/public/page",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cred {
    None,
    Basic,
    Malformed,
    ValidJwt,
    ExpiredJwt,
    ForeignJwt,
    IngestKey,
    ConsumptionKey,
    Garbage,
    AdminPlain,
    AdminHashed,
}

const CREDS: [Cred; 11] = [
    Cred::None,
    Cred::Basic,
    Cred::Malformed,
    Cred::ValidJwt,
    Cred::ExpiredJwt,
    Cred::ForeignJwt,
    Cred::IngestKey,
    Cred::ConsumptionKey,
    Cred::Garbage,
    Cred::AdminPlain,
    Cred::AdminHashed,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admin {
    None,
    Plain,
    Hashed,
}

#[derive(Debug, Clone, Copy)]
struct Config {
    jwt: bool,
    keys: bool,
    enforce: bool,
    admin: Admin,
}

#[derive(Debug, PartialEq, Eq)]
enum Expect {
    Allow(&'static str),
    /// Status and RFC 6750 error code (`None`: the bare challenge).
    Deny(u16, Option<&'static str>),
}

/// reference §5, written out independently.
fn oracle(config: Config, class: Class, cred: Cred) -> Expect {
    let no_credentials = matches!(cred, Cred::None | Cred::Basic);
    match class {
        Class::Public => Expect::Allow("none"),
        Class::Admin => {
            if no_credentials {
                Expect::Deny(401, None)
            } else if cred == Cred::Malformed {
                Expect::Deny(400, Some("invalid_request"))
            } else if (config.admin == Admin::Plain && cred == Cred::AdminPlain)
                || (config.admin == Admin::Hashed && cred == Cred::AdminHashed)
            {
                Expect::Allow("admin_token")
            } else {
                Expect::Deny(401, Some("invalid_token"))
            }
        }
        Class::Ingest | Class::Consumption => {
            if !config.jwt && !config.keys && !config.enforce {
                return Expect::Allow("none");
            }
            if no_credentials {
                return Expect::Deny(401, None);
            }
            if cred == Cred::Malformed {
                return Expect::Deny(400, Some("invalid_request"));
            }
            let own_key = match class {
                Class::Ingest => Cred::IngestKey,
                _ => Cred::ConsumptionKey,
            };
            if config.jwt && cred == Cred::ValidJwt {
                Expect::Allow("jwt")
            } else if !config.enforce && config.keys && cred == own_key {
                Expect::Allow("api_key")
            } else {
                Expect::Deny(401, Some("invalid_token"))
            }
        }
    }
}

struct Secrets {
    ingest: Key,
    consumption: Key,
    admin_hashed: Key,
    admin_plain: String,
    foreign: JwtKeys,
}

fn state(config: Config, secrets: &Secrets) -> Result<AuthState, StateError> {
    let mut builder = AuthState::builder()
        .enforce_jwt_on_ingest(config.enforce)
        .enforce_jwt_on_consumption(config.enforce)
        .admin(match config.admin {
            Admin::None => AdminCredential::None,
            Admin::Plain => AdminCredential::Plain {
                token: SecretString::from(secrets.admin_plain.clone()),
                source: "MOOSE_ADMIN_TOKEN",
            },
            Admin::Hashed => AdminCredential::Hashed(secrets.admin_hashed.set()),
        });
    if config.jwt {
        builder = builder.jwt(jwt_keys().verifier());
    }
    if config.keys {
        builder = builder
            .ingest_keys(secrets.ingest.set())
            .consumption_keys(secrets.consumption.set());
    }
    builder.build()
}

fn header_value(cred: Cred, secrets: &Secrets) -> Option<String> {
    let keys = jwt_keys();
    match cred {
        Cred::None => None,
        Cred::Basic => Some("Basic dXNlcjpwYXNz".into()),
        Cred::Malformed => Some("Bearer a b".into()),
        Cred::ValidJwt => Some(bearer(&keys.token("alice", 600))),
        Cred::ExpiredJwt => Some(bearer(&keys.token("alice", -3600))),
        Cred::ForeignJwt => Some(bearer(&secrets.foreign.token("mallory", 600))),
        Cred::IngestKey => Some(bearer(&secrets.ingest.token)),
        Cred::ConsumptionKey => Some(bearer(&secrets.consumption.token)),
        Cred::Garbage => Some(bearer("not-a-key")),
        Cred::AdminPlain => Some(bearer(&secrets.admin_plain)),
        Cred::AdminHashed => Some(bearer(&secrets.admin_hashed.token)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_combination_answers_as_the_spec_says() {
    let secrets = Secrets {
        ingest: Key::new(),
        consumption: Key::new(),
        admin_hashed: Key::new(),
        admin_plain: "plain-admin-token-0123456789".into(),
        foreign: JwtKeys::new(JwtAlgorithm::EdDsa),
    };
    let admins = [Admin::None, Admin::Plain, Admin::Hashed];
    let mut checked = 0;
    let mut config_index = 0;
    for jwt in [false, true] {
        for keys in [false, true] {
            for enforce in [false, true] {
                let config = Config {
                    jwt,
                    keys,
                    enforce,
                    admin: admins[config_index % admins.len()],
                };
                config_index += 1;
                let built = state(config, &secrets);
                if enforce && !jwt {
                    assert!(
                        matches!(built, Err(StateError::EnforceWithoutJwt { .. })),
                        "{config:?}"
                    );
                    continue;
                }
                let app = echo_app().layer(AuthHandle::new(built.unwrap()).by_path_prefix());
                for class in [
                    Class::Ingest,
                    Class::Consumption,
                    Class::Admin,
                    Class::Public,
                ] {
                    for cred in CREDS {
                        let header = header_value(cred, &secrets);
                        let reply = get(&app, class.path(), header.as_deref()).await;
                        let case = format!("{config:?} {class:?} {cred:?}");
                        check(&reply, oracle(config, class, cred), &case);
                        check_specific_messages(&reply, config, class, cred, &case);
                        checked += 1;
                    }
                }
            }
        }
    }
    assert_eq!(checked, 6 * 4 * CREDS.len());
}

fn check(reply: &common::Reply, expect: Expect, case: &str) {
    match expect {
        Expect::Allow(method) => {
            assert_eq!(
                reply.status,
                200,
                "{case}: {:?}",
                String::from_utf8_lossy(&reply.body)
            );
            assert_eq!(reply.json()["method"], method, "{case}");
            assert!(reply.header("www-authenticate").is_none(), "{case}");
        }
        Expect::Deny(status, code) => {
            assert_eq!(
                reply.status,
                status,
                "{case}: {:?}",
                String::from_utf8_lossy(&reply.body)
            );
            assert_eq!(
                reply.header("content-type"),
                Some("application/json"),
                "{case}"
            );
            let challenge = reply
                .header("www-authenticate")
                .unwrap_or_else(|| panic!("{case}"));
            let body = reply.json();
            let message = body["message"].as_str().unwrap_or_else(|| panic!("{case}"));
            assert!(!message.is_empty(), "{case}");
            match code {
                None => {
                    assert_eq!(challenge, r#"Bearer realm="keygate""#, "{case}");
                    assert_eq!(body["error"], "unauthorized", "{case}");
                }
                Some(code) => {
                    let expected = format!(
                        r#"Bearer realm="keygate", error="{code}", error_description="{message}""#
                    );
                    assert_eq!(challenge, expected, "{case}");
                    assert_eq!(body["error"], code, "{case}");
                }
            }
            assert_eq!(
                body.as_object().unwrap().len(),
                2,
                "{case}: only error and message"
            );
        }
    }
}

/// Messages the spec makes visible: the JWT's own error wins, enforce names JWT.
fn check_specific_messages(
    reply: &common::Reply,
    config: Config,
    class: Class,
    cred: Cred,
    case: &str,
) {
    let protected = matches!(class, Class::Ingest | Class::Consumption);
    if !protected || reply.status != 401 {
        return;
    }
    let message = reply.json()["message"].as_str().unwrap().to_owned();
    if config.jwt && cred == Cred::ExpiredJwt {
        assert_eq!(message, "the token has expired", "{case}");
    }
    if config.enforce && matches!(cred, Cred::IngestKey | Cred::ConsumptionKey | Cred::Garbage) {
        assert_eq!(message, "this route accepts only JWTs", "{case}");
    }
    if !config.jwt && config.keys && cred == Cred::Garbage {
        assert_eq!(
            message, "the token is not an API key of any known format",
            "{case}"
        );
    }
}

#[tokio::test]
async fn route_layer_and_nested_routers_are_classified_by_the_original_path() {
    let key = Key::new();
    let handle = AuthHandle::new(
        AuthState::builder()
            .consumption_keys(key.set())
            .build()
            .unwrap(),
    );
    let inner = echo_app().route_layer(handle.by_path_prefix());
    let app = axum::Router::new().nest("/v1", axum::Router::new().nest("/api", inner.clone()));
    // Nested under /v1 the class prefix /api/ does not match: public.
    assert_eq!(get(&app, "/v1/api/api/x", None).await.status, 200);
    let app = axum::Router::new().nest("/api", echo_app().route_layer(handle.by_path_prefix()));
    // The nested router sees /public/x, but the original path is /api/public/x.
    assert_eq!(get(&app, "/api/public/x", None).await.status, 401);
    let ok = get(&app, "/api/public/x", Some(&bearer(&key.token))).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["method"], "api_key");
    // route_layer leaves unmatched paths to the fallback (404), not to the policy.
    assert_eq!(get(&inner, "/nowhere", None).await.status, 404);
}

#[tokio::test]
async fn several_authorization_headers_are_malformed() {
    let key = Key::new();
    let handle = AuthHandle::new(AuthState::builder().ingest_keys(key.set()).build().unwrap());
    let app = echo_app().layer(handle.by_path_prefix());
    let request = http::Request::get("/ingest/x")
        .header("authorization", bearer(&key.token))
        .header("authorization", bearer(&key.token))
        .body(axum::body::Body::empty())
        .unwrap();
    let reply = common::send(&app, request).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json()["message"],
        "more than one Authorization header"
    );
}
