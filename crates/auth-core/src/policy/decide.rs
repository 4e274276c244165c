//! Running a [`Plan`]: each planned step through a [`Verifier`] until one succeeds — first the
//! steps the verifier can answer at once ([`decide_now`]), then the ones it must wait for
//! ([`Pending::finish`]). [`decide`] is both in one call.

use std::future::Future;

use super::{Denial, Failures, InvalidReason, Mechanisms, Plan, Principal, RouteClass, Step, plan};
use crate::header::{BearerToken, Credentials, MalformedHeader};

/// The outcome of one verification step: who the token authenticates, or why it does not.
pub type StepOutcome = Result<Principal, InvalidReason>;

/// Runs verification steps for [`decide`]. [`Direct`](super::Direct) checks against a
/// [`Policy`](super::Policy) and nothing else; the server's implementation adds its cache, its
/// KDF pool and remote key sets.
pub trait Verifier: Sync {
    /// A condition that ends the decision without judging the token (e.g. a full KDF queue):
    /// the request is refused with "try again", not as unauthenticated.
    type Unavailable: Send;

    /// The outcome of `step` when the verifier knows it without waiting (e.g. a cached one);
    /// `None` leaves the step to [`Verifier::verify`]. The default knows nothing at once.
    fn verify_now(
        &self,
        step: Step,
        class: RouteClass,
        token: &str,
    ) -> Option<Result<StepOutcome, Self::Unavailable>> {
        let _ = (step, class, token);
        None
    }

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

/// How far [`decide_now`] got.
#[derive(Debug)]
pub enum Progress<'a, E> {
    /// The decision is made.
    Decided(Result<Principal, Refusal<E>>),
    /// A step must wait for the verifier: go on with [`Pending::finish`].
    Pending(Pending<'a>),
}

/// A decision whose next step must wait for [`Verifier::verify`]. Every step answered before it
/// failed (a success ends the decision).
#[derive(Debug)]
pub struct Pending<'a> {
    class: RouteClass,
    token: BearerToken<'a>,
    /// The steps still to run, the waiting one first.
    steps: &'static [Step],
    /// How many planned steps were answered already.
    answered: usize,
    failures: Failures,
}

/// A [`Pending`] decision detached from the request it borrowed the token from
/// ([`Pending::detach`]); [`resume`] continues it.
#[derive(Debug, Clone, Copy)]
pub struct Resume {
    class: RouteClass,
    answered: usize,
    failures: Failures,
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
    match decide_now(class, credentials, mechanisms, verifier) {
        Progress::Decided(decided) => decided,
        Progress::Pending(pending) => pending.finish(verifier).await,
    }
}

/// [`decide`] as far as it goes without waiting: [`plan`], then each step
/// [`Verifier::verify_now`] answers, until one succeeds or one must wait.
pub fn decide_now<'a, V: Verifier>(
    class: RouteClass,
    credentials: Result<Credentials<'a>, MalformedHeader>,
    mechanisms: &Mechanisms,
    verifier: &V,
) -> Progress<'a, V::Unavailable> {
    let mut pending = match Pending::planned(class, credentials, mechanisms) {
        Ok(pending) => pending,
        Err(decided) => return Progress::Decided(decided),
    };
    while let Some((&step, rest)) = pending.steps.split_first() {
        let Some(outcome) = verifier.verify_now(step, class, pending.token.as_str()) else {
            return Progress::Pending(pending);
        };
        pending.steps = rest;
        pending.answered += 1;
        match outcome {
            Ok(Ok(principal)) => return Progress::Decided(Ok(principal)),
            Ok(Err(reason)) => pending.failures.push(reason),
            Err(unavailable) => return Progress::Decided(Err(Refusal::Unavailable(unavailable))),
        }
    }
    Progress::Decided(Err(pending.refused()))
}

impl<'a> Pending<'a> {
    /// The plan's steps, none answered yet; or the decision, when the plan needs no step.
    fn planned<E>(
        class: RouteClass,
        credentials: Result<Credentials<'a>, MalformedHeader>,
        mechanisms: &Mechanisms,
    ) -> Result<Self, Result<Principal, Refusal<E>>> {
        match plan(class, credentials, mechanisms) {
            Plan::Allow(principal) => Err(Ok(principal)),
            Plan::Deny(denial) => Err(Err(Refusal::Denied(denial))),
            Plan::Verify { token, steps } => Ok(Self {
                class,
                token,
                steps,
                answered: 0,
                failures: Failures::default(),
            }),
        }
    }

    /// Runs the remaining steps through [`Verifier::verify`].
    ///
    /// # Errors
    /// As [`decide`].
    pub async fn finish<V: Verifier>(
        mut self,
        verifier: &V,
    ) -> Result<Principal, Refusal<V::Unavailable>> {
        for &step in self.steps {
            match verifier
                .verify(step, self.class, self.token.as_str())
                .await
                .map_err(Refusal::Unavailable)?
            {
                Ok(principal) => return Ok(principal),
                Err(reason) => self.failures.push(reason),
            }
        }
        Err(self.refused())
    }

    /// What [`resume`] needs besides the credentials: the steps answered and their failures.
    #[must_use]
    pub fn detach(self) -> Resume {
        Resume {
            class: self.class,
            answered: self.answered,
            failures: self.failures,
        }
    }

    fn refused<E>(&self) -> Refusal<E> {
        Refusal::Denied(Denial::InvalidToken(self.failures.combined()))
    }
}

/// Continues a [`Resume`]d decision with the credentials and mechanisms it was planned with:
/// the plan is made again, and the steps already answered are not run again. Those steps only
/// ever failed, so credentials other than the original ones can refuse a request, never let
/// one in.
///
/// # Errors
/// As [`decide`].
pub async fn resume<V: Verifier>(
    resume: Resume,
    credentials: Result<Credentials<'_>, MalformedHeader>,
    mechanisms: &Mechanisms,
    verifier: &V,
) -> Result<Principal, Refusal<V::Unavailable>> {
    let mut pending = match Pending::planned(resume.class, credentials, mechanisms) {
        Ok(pending) => pending,
        Err(decided) => return decided,
    };
    pending.steps = pending.steps.get(resume.answered..).unwrap_or_default();
    pending.answered = resume.answered;
    pending.failures = resume.failures;
    pending.finish(verifier).await
}
