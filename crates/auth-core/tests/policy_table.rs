//! reference §5 as a table: every row of the policy, through the pure decision function.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

use std::sync::{Arc, Mutex};

use auth_core::apikey::{ApiKeyError, KeyId};
use auth_core::header::{
    DEFAULT_MAX_AUTHORIZATION_BYTES as MAX, MalformedHeader, parse_authorization,
};
use auth_core::jwt::{Claims, JwtError};
use auth_core::policy::{
    ClassMechanisms, Denial, InvalidReason, Mechanisms, Principal, Progress, Refusal, RouteClass,
    Step, StepOutcome, Verifier, decide, decide_now, resume,
};

const GOOD_JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.good";
const BAD_JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.bad";
/// JWT-shaped, fails as a JWT, but is a valid API key: exercises the fallback.
const JWT_SHAPED_KEY: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.key";
const GOOD_KEY: &str = "goodkey";
const BAD_KEY: &str = "badkey";
const ADMIN_TOKEN: &str = "admintoken";

/// A verifier that accepts fixed tokens and records which checks ran, in order. Steps of the
/// kind `now` are answered by `verify_now` (as a cache hit would be), the rest by `verify`.
#[derive(Default)]
struct Fake {
    calls: Mutex<Vec<&'static str>>,
    now: Option<Step>,
}

fn claims() -> Arc<Claims> {
    Arc::new(Claims {
        iss: "iss".into(),
        sub: Some("u".into()),
        aud: vec!["aud".into()],
        exp: 1,
        nbf: None,
        iat: None,
        jti: None,
        json: serde_json::Map::new(),
    })
}

fn key_id() -> KeyId {
    KeyId::of_stored("stored")
}

impl Verifier for Fake {
    type Unavailable = std::convert::Infallible;

    fn verify_now(
        &self,
        step: Step,
        class: RouteClass,
        token: &str,
    ) -> Option<Result<StepOutcome, Self::Unavailable>> {
        (self.now == Some(step)).then(|| Ok(self.check(step, class, token)))
    }

    async fn verify(
        &self,
        step: Step,
        class: RouteClass,
        token: &str,
    ) -> Result<StepOutcome, Self::Unavailable> {
        assert_ne!(
            self.now,
            Some(step),
            "a step answered at once is never awaited"
        );
        Ok(self.check(step, class, token))
    }
}

impl Fake {
    fn check(&self, step: Step, class: RouteClass, token: &str) -> StepOutcome {
        let mut calls = self.calls.lock().unwrap();
        match step {
            Step::Jwt => {
                calls.push("jwt");
                if token == GOOD_JWT {
                    Ok(Principal::Jwt(claims()))
                } else {
                    Err(InvalidReason::Jwt(JwtError::InvalidSignature))
                }
            }
            Step::ApiKey => {
                calls.push("api_key");
                if token == GOOD_KEY || token == JWT_SHAPED_KEY {
                    Ok(Principal::ApiKey {
                        class,
                        key_id: key_id(),
                    })
                } else {
                    Err(InvalidReason::ApiKey(ApiKeyError::NoMatch))
                }
            }
            Step::Admin => {
                calls.push("admin");
                if token == ADMIN_TOKEN {
                    Ok(Principal::Admin { key_id: None })
                } else {
                    Err(InvalidReason::ApiKey(ApiKeyError::NoMatch))
                }
            }
        }
    }
}

/// Runs a future that never waits (the fake verifier answers at once) to completion.
fn at_once<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("the decision waited on a verifier that never waits"),
    }
}

const NONE: ClassMechanisms = ClassMechanisms {
    jwt: false,
    enforce_jwt: false,
    api_keys: false,
};
const JWT: ClassMechanisms = ClassMechanisms {
    jwt: true,
    enforce_jwt: false,
    api_keys: false,
};
const KEYS: ClassMechanisms = ClassMechanisms {
    jwt: false,
    enforce_jwt: false,
    api_keys: true,
};
const BOTH: ClassMechanisms = ClassMechanisms {
    jwt: true,
    enforce_jwt: false,
    api_keys: true,
};
const ENFORCED: ClassMechanisms = ClassMechanisms {
    jwt: true,
    enforce_jwt: true,
    api_keys: true,
};
const ENFORCED_NO_JWT: ClassMechanisms = ClassMechanisms {
    jwt: false,
    enforce_jwt: true,
    api_keys: true,
};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Jwt,
    Key,
    Admin,
    Open,
    Public,
    NoCredentials,
    Malformed,
    Invalid(InvalidReason),
}

/// How [`run`] drives the decision.
#[derive(Debug, Clone, Copy)]
enum Drive {
    /// `decide`, every step awaited.
    Awaited,
    /// `decide`, JWT steps answered at once.
    JwtNow,
    /// `decide_now` with JWT steps answered at once, then (when a step must wait) the detached
    /// decision `resume`d with the header parsed again, as the server does.
    Resumed,
}

fn run(
    class: RouteClass,
    mechanisms: ClassMechanisms,
    admin: bool,
    header: &str,
    drive: Drive,
) -> (Expect, Vec<&'static str>) {
    let all = Mechanisms {
        ingest: mechanisms,
        consumption: mechanisms,
        admin,
    };
    let fake = Fake {
        now: match drive {
            Drive::Awaited => None,
            Drive::JwtNow | Drive::Resumed => Some(Step::Jwt),
        },
        ..Fake::default()
    };
    let credentials = || {
        if header == "<none>" {
            auth_core::header::parse_authorization_headers(std::iter::empty(), MAX)
        } else {
            parse_authorization(header.as_bytes(), MAX)
        }
    };
    let decided = match drive {
        Drive::Awaited | Drive::JwtNow => at_once(decide(class, credentials(), &all, &fake)),
        Drive::Resumed => match decide_now(class, credentials(), &all, &fake) {
            Progress::Decided(decided) => decided,
            Progress::Pending(pending) => {
                let detached = pending.detach();
                at_once(resume(detached, credentials(), &all, &fake))
            }
        },
    };
    let outcome = match decided {
        Ok(Principal::Jwt(_)) => Expect::Jwt,
        Ok(Principal::ApiKey {
            class: c,
            key_id: id,
        }) => {
            assert_eq!((c, id), (class, key_id()));
            Expect::Key
        }
        Ok(Principal::Admin { .. }) => Expect::Admin,
        Ok(Principal::Open(c)) => {
            assert_eq!(c, class);
            Expect::Open
        }
        Ok(Principal::Public) => Expect::Public,
        Ok(other) => panic!("unexpected {other:?}"),
        Err(Refusal::Denied(Denial::NoCredentials)) => Expect::NoCredentials,
        Err(Refusal::Denied(Denial::Malformed(_))) => Expect::Malformed,
        Err(Refusal::Denied(Denial::InvalidToken(reason))) => Expect::Invalid(reason),
        Err(other) => panic!("unexpected {other:?}"),
    };
    (outcome, fake.calls.into_inner().unwrap())
}

/// class, its mechanisms, admin configured?, header, expected outcome, checks made in order.
type Row = (
    RouteClass,
    ClassMechanisms,
    bool,
    String,
    Expect,
    Vec<&'static str>,
);

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[test]
fn the_policy_table() {
    use Expect::*;
    let jwt_failed = Invalid(InvalidReason::Jwt(JwtError::InvalidSignature));
    let key_failed = Invalid(InvalidReason::ApiKey(ApiKeyError::NoMatch));
    #[rustfmt::skip]
    let rows: Vec<Row> = vec![
        // 1. Enforce flag: JWT only, API keys never consulted even when configured.
        (RouteClass::Ingest, ENFORCED, false, bearer(GOOD_JWT), Jwt, vec!["jwt"]),
        (RouteClass::Ingest, ENFORCED, false, bearer(BAD_JWT), jwt_failed, vec!["jwt"]),
        (RouteClass::Ingest, ENFORCED, false, bearer(JWT_SHAPED_KEY), jwt_failed, vec!["jwt"]),
        (RouteClass::Ingest, ENFORCED, false, bearer(GOOD_KEY), Invalid(InvalidReason::JwtRequired), vec![]),
        (RouteClass::Consumption, ENFORCED, false, bearer(GOOD_KEY), Invalid(InvalidReason::JwtRequired), vec![]),
        (RouteClass::Ingest, ENFORCED, false, "<none>".into(), NoCredentials, vec![]),
        (RouteClass::Ingest, ENFORCED, false, "Bearer a b".into(), Malformed, vec![]),
        // An enforce flag without JWT settings is a startup error; the policy fails closed anyway.
        (RouteClass::Ingest, ENFORCED_NO_JWT, false, bearer(GOOD_JWT), Invalid(InvalidReason::JwtRequired), vec![]),
        // 2. Both configured: JWT-shaped tokens try JWT first, then API keys.
        (RouteClass::Ingest, BOTH, false, bearer(GOOD_JWT), Jwt, vec!["jwt"]),
        (RouteClass::Ingest, BOTH, false, bearer(JWT_SHAPED_KEY), Key, vec!["jwt", "api_key"]),
        (RouteClass::Ingest, BOTH, false, bearer(BAD_JWT), jwt_failed, vec!["jwt", "api_key"]),
        (RouteClass::Consumption, BOTH, false, bearer(GOOD_KEY), Key, vec!["api_key"]),
        (RouteClass::Consumption, BOTH, false, bearer(BAD_KEY), key_failed, vec!["api_key"]),
        (RouteClass::Consumption, BOTH, false, "<none>".into(), NoCredentials, vec![]),
        (RouteClass::Consumption, BOTH, false, "Basic dXNlcjpwYXNz".into(), NoCredentials, vec![]),
        (RouteClass::Consumption, BOTH, false, "Bearer\tabc".into(), Malformed, vec![]),
        // 2b. JWT only: a token that is not JWT-shaped is refused without any check.
        (RouteClass::Consumption, JWT, false, bearer(GOOD_JWT), Jwt, vec!["jwt"]),
        (RouteClass::Consumption, JWT, false, bearer(GOOD_KEY), Invalid(InvalidReason::NotAJwt), vec![]),
        // 2c. API keys only: even JWT-shaped tokens go straight to the keys.
        (RouteClass::Ingest, KEYS, false, bearer(GOOD_KEY), Key, vec!["api_key"]),
        (RouteClass::Ingest, KEYS, false, bearer(GOOD_JWT), key_failed, vec!["api_key"]),
        // 3. Nothing configured: open, whatever the header says.
        (RouteClass::Ingest, NONE, false, "<none>".into(), Open, vec![]),
        (RouteClass::Consumption, NONE, false, "Bearer a b".into(), Open, vec![]),
        // Admin: API keys only, never JWT; fail closed when nothing is configured.
        (RouteClass::Admin, BOTH, true, bearer(ADMIN_TOKEN), Admin, vec!["admin"]),
        (RouteClass::Admin, BOTH, true, bearer(GOOD_JWT), key_failed, vec!["admin"]),
        (RouteClass::Admin, BOTH, true, bearer(GOOD_KEY), key_failed, vec!["admin"]),
        (RouteClass::Admin, BOTH, true, "<none>".into(), NoCredentials, vec![]),
        (RouteClass::Admin, NONE, false, bearer(ADMIN_TOKEN), Invalid(InvalidReason::AdminNotConfigured), vec![]),
        (RouteClass::Admin, NONE, false, "<none>".into(), NoCredentials, vec![]),
        (RouteClass::Admin, NONE, false, "Bearer".into(), Malformed, vec![]),
        // Public routes never look at the header.
        (RouteClass::Public, ENFORCED, true, "Bearer a b".into(), Public, vec![]),
    ];
    for (i, (class, mechanisms, admin, header, expected, calls)) in rows.into_iter().enumerate() {
        for drive in [Drive::Awaited, Drive::JwtNow, Drive::Resumed] {
            let (outcome, made) = run(class, mechanisms, admin, &header, drive);
            assert_eq!(
                outcome, expected,
                "row {i} ({drive:?}): {class} {mechanisms:?} {header:?}"
            );
            assert_eq!(made, calls, "row {i} ({drive:?}): checks made");
        }
    }
}

#[test]
fn denials_render_as_rfc_6750_responses() {
    let none = Denial::NoCredentials;
    assert_eq!(none.status(), 401);
    assert_eq!(none.www_authenticate(), r#"Bearer realm="keygate""#);
    assert_eq!(none.body_error(), "unauthorized");

    let malformed = Denial::Malformed(MalformedHeader::BadSeparator);
    assert_eq!(malformed.status(), 400);
    assert!(
        malformed
            .www_authenticate()
            .starts_with(r#"Bearer realm="keygate", error="invalid_request""#)
    );
    assert_eq!(malformed.body_error(), "invalid_request");

    let invalid = Denial::InvalidToken(InvalidReason::Jwt(JwtError::Expired));
    assert_eq!(invalid.status(), 401);
    assert!(
        invalid
            .www_authenticate()
            .contains(r#"error="invalid_token""#)
    );
    assert_eq!(invalid.body_error(), "invalid_token");
    assert_eq!(invalid.message(), "the token has expired");
}

#[test]
fn a_resumed_decision_never_lets_in_other_credentials() {
    let all = Mechanisms {
        ingest: BOTH,
        consumption: BOTH,
        admin: false,
    };
    let fake = Fake {
        now: Some(Step::Jwt),
        ..Fake::default()
    };
    // A JWT-shaped wrong token: its JWT step fails at once, its API-key step must wait.
    let header = bearer(BAD_JWT);
    let Progress::Pending(pending) = decide_now(
        RouteClass::Consumption,
        parse_authorization(header.as_bytes(), MAX),
        &all,
        &fake,
    ) else {
        panic!("the API-key step waits");
    };
    let detached = pending.detach();
    // Resumed with a valid JWT instead: its JWT step counts as already failed, so it is refused.
    let good = bearer(GOOD_JWT);
    let resumed = at_once(resume(
        detached,
        parse_authorization(good.as_bytes(), MAX),
        &all,
        &fake,
    ));
    assert_eq!(
        resumed,
        Err(Refusal::Denied(Denial::InvalidToken(InvalidReason::Jwt(
            JwtError::InvalidSignature
        ))))
    );
    assert_eq!(fake.calls.into_inner().unwrap(), ["jwt", "api_key"]);
}
