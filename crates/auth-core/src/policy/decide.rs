//! Running a [`Plan`]: the one loop over verification steps.

use std::future::Future;

use super::{
    Denial, InvalidReason, Mechanisms, Plan, Principal, RouteClass, Step, combine_failures, plan,
};
use crate::header::{Credentials, MalformedHeader};

/// The outcome of one verification step: who the token authenticates, or why it does not.
pub type StepOutcome = Result<Principal, InvalidReason>;

/// Runs verification steps for [`decide`]. [`Direct`](super::Direct) checks against a
/// [`Policy`](super::Policy) and nothing else; the server's implementation adds its cache, its
/// KDF pool and remote key sets.
pub trait Verifier: Sync {
    /// A condition that ends the decision without judging the token (e.g. a full KDF queue):
    /// the request is refused with "try again", not as unauthenticated.
    type Unavailable: Send;

    /// Runs `step` for `token` on a route of `class`.
    fn verify(
        &self,
        step: Step,
        class: RouteClass,
        token: &str,
    ) -> impl Future<Output = Result<StepOutcome, Self::Unavailable>> + Send;
}

/// Why [`decide`] did not let a request through.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal<E> {
    /// The policy refused it (400/401, RFC 6750).
    Denied(Denial),
    /// The verifier could not judge it now.
    Unavailable(E),
}

/// The whole policy: [`plan`], then each planned step through `verifier` until one succeeds.
///
/// # Errors
/// [`Refusal::Denied`] with the [`Denial`] to send to the client, or
/// [`Refusal::Unavailable`] when the verifier could not judge the token.
pub async fn decide<V: Verifier>(
    class: RouteClass,
    credentials: Result<Credentials<'_>, MalformedHeader>,
    mechanisms: &Mechanisms,
    verifier: &V,
) -> Result<Principal, Refusal<V::Unavailable>> {
    let (token, steps) = match plan(class, credentials, mechanisms) {
        Plan::Allow(principal) => return Ok(principal),
        Plan::Deny(denial) => return Err(Refusal::Denied(denial)),
        Plan::Verify { token, steps } => (token, steps),
    };
    let mut failures: Vec<InvalidReason> = Vec::with_capacity(steps.len());
    for &step in steps {
        match verifier
            .verify(step, class, token.as_str())
            .await
            .map_err(Refusal::Unavailable)?
        {
            Ok(principal) => return Ok(principal),
            Err(reason) => failures.push(reason),
        }
    }
    Err(Refusal::Denied(Denial::InvalidToken(combine_failures(
        &failures,
    ))))
}
