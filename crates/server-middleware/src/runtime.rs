//! What serves one installed [`AuthState`]: its cache generation, the verification cache, the
//! KDF pool and the JWT keys, with a remote key set merged in when one is configured.

use std::sync::Arc;

use arc_swap::ArcSwap;
use auth_cache::budget::{FailureBudget, OverBudget, Reservation};
use auth_cache::client::ClientId;
use auth_cache::clock::Clock;
use auth_cache::pool::KdfPool;
use auth_cache::verify::VerificationCache;
use auth_core::jwt::JwtVerifier;

#[cfg(feature = "jwks")]
use crate::jwks::Jwks;
use crate::state::AuthState;

/// One installed configuration and the runtime pieces that serve it.
pub(crate) struct Active {
    pub(crate) state: Arc<AuthState>,
    pub(crate) generation: u64,
    pub(crate) cache: Arc<VerificationCache>,
    pub(crate) pool: KdfPool,
    /// The state's JWT keys, merged with its remote key set; `None` without JWT.
    pub(crate) jwt: Option<JwtKeys>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) budgets: Arc<RunningBudgets>,
}

/// Failures charged ahead of one credential check ([`RunningBudgets::reserve`]).
pub(crate) struct Charge<'a> {
    client: Option<Reservation<'a, ClientId>>,
    project: Option<Reservation<'a, u64>>,
}

impl Charge<'_> {
    /// The check is done and caused `failures` failures: they replace the charge everywhere.
    pub(crate) fn settle(self, failures: u32) {
        if let Some(reservation) = self.client {
            reservation.settle(failures);
        }
        if let Some(reservation) = self.project {
            reservation.settle(failures);
        }
    }
}

/// The failure counts of the state's budgets; they outlive a reload that keeps the settings.
pub(crate) struct RunningBudgets {
    pub(crate) clients: FailureBudget<ClientId>,
    /// Keyed by a keyed hash of the presented project id, never the id itself.
    pub(crate) projects: FailureBudget<u64>,
    pub(crate) project_hasher: std::collections::hash_map::RandomState,
}

impl RunningBudgets {
    pub(crate) fn new(budgets: &crate::state::Budgets) -> Self {
        Self {
            clients: FailureBudget::new(budgets.per_client),
            projects: FailureBudget::new(budgets.per_project),
            project_hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    /// Whether these counters were made for `budgets`.
    pub(crate) fn serve(&self, budgets: &crate::state::Budgets) -> bool {
        *self.clients.settings() == budgets.per_client
            && *self.projects.settings() == budgets.per_project
    }

    /// Charges `cost` failures, before the work, to `client` and (at the token endpoint) to the
    /// presented `project`; nothing stays charged when either is over its budget.
    ///
    /// # Errors
    /// [`OverBudget`] of the first budget that refuses.
    pub(crate) fn reserve(
        &self,
        client: Option<ClientId>,
        project: Option<u64>,
        cost: u32,
    ) -> Result<Charge<'_>, OverBudget> {
        let client = client
            .map(|client| self.clients.reserve(client, cost))
            .transpose()?;
        let project = match project.map(|project| self.projects.reserve(project, cost)) {
            None => None,
            Some(Ok(reservation)) => Some(reservation),
            Some(Err(over)) => {
                if let Some(reservation) = client {
                    reservation.settle(0);
                }
                return Err(over);
            }
        };
        Ok(Charge { client, project })
    }

    /// Holds a request refused for being over budget before its 429 goes out
    /// ([`BudgetSettings::refusal_delay`](auth_cache::budget::BudgetSettings::refusal_delay)):
    /// a flooding client's connections then carry one request per delay.
    pub(crate) async fn hold_refusal(&self) {
        let delay = self.clients.settings().refusal_delay;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }

    /// The budget key of a presented project id.
    #[cfg_attr(
        not(feature = "issuer"),
        allow(dead_code, reason = "only the token issuer has projects")
    )]
    pub(crate) fn project_key(&self, project_id: &str) -> u64 {
        std::hash::BuildHasher::hash_one(&self.project_hasher, project_id)
    }
}

impl Active {
    /// `previous`' running key set is kept when `state` fetches the same source, so a reload
    /// neither forgets the fetched keys nor starts a second refresher.
    pub(crate) fn new(
        state: AuthState,
        generation: u64,
        cache: Arc<VerificationCache>,
        pool: KdfPool,
        clock: Arc<dyn Clock>,
        previous: Option<&Self>,
    ) -> Self {
        let budgets = match previous {
            Some(previous) if previous.budgets.serve(state.budgets()) => {
                Arc::clone(&previous.budgets)
            }
            _ => Arc::new(RunningBudgets::new(state.budgets())),
        };
        let jwt = state.jwt().map(|verifier| {
            #[cfg(feature = "jwks")]
            {
                let running = previous
                    .and_then(|p| p.jwt.as_ref())
                    .and_then(JwtKeys::jwks);
                let jwks = state.jwks().map(|source| match running {
                    Some(jwks) if jwks.serves(source) => jwks.clone(),
                    _ => Jwks::from_source(source),
                });
                JwtKeys::new(verifier.clone(), jwks)
            }
            #[cfg(not(feature = "jwks"))]
            {
                let _ = previous;
                JwtKeys::new(verifier.clone())
            }
        });
        Self {
            state: Arc::new(state),
            generation,
            cache,
            pool,
            jwt,
            clock,
            budgets,
        }
    }
}

/// One configuration's JWT keys. The merged verifier is rebuilt only when the remote set
/// changes, so a request pays two atomic loads.
pub(crate) struct JwtKeys {
    #[cfg(feature = "jwks")]
    base: JwtVerifier,
    #[cfg(feature = "jwks")]
    jwks: Option<Jwks>,
    merged: ArcSwap<Merged>,
}

/// A verifier for one version of the remote key set (version 0 without one).
#[derive(Debug)]
pub(crate) struct Merged {
    pub(crate) version: u64,
    pub(crate) verifier: JwtVerifier,
}

impl JwtKeys {
    #[cfg(feature = "jwks")]
    fn new(base: JwtVerifier, jwks: Option<Jwks>) -> Self {
        let merged = match &jwks {
            Some(jwks) => merge(&base, jwks),
            None => Merged {
                version: 0,
                verifier: base.clone(),
            },
        };
        Self {
            base,
            jwks,
            merged: ArcSwap::from_pointee(merged),
        }
    }

    #[cfg(not(feature = "jwks"))]
    fn new(base: JwtVerifier) -> Self {
        Self {
            merged: ArcSwap::from_pointee(Merged {
                version: 0,
                verifier: base,
            }),
        }
    }

    /// The remote key set, if configured.
    #[cfg(feature = "jwks")]
    pub(crate) fn jwks(&self) -> Option<&Jwks> {
        self.jwks.as_ref()
    }

    /// Whether a token naming an unknown `kid` may make the remote key set be fetched again.
    pub(crate) fn may_refetch(&self) -> bool {
        #[cfg(feature = "jwks")]
        return self.jwks.is_some();
        #[cfg(not(feature = "jwks"))]
        false
    }

    /// The verifier for the current remote key set.
    pub(crate) fn current(&self) -> Arc<Merged> {
        let merged = self.merged.load_full();
        #[cfg(feature = "jwks")]
        if let Some(jwks) = &self.jwks
            && jwks.current().version != merged.version
        {
            // Racing rebuilds are harmless: a stale store is noticed and redone by the next call.
            let fresh = Arc::new(merge(&self.base, jwks));
            self.merged.store(Arc::clone(&fresh));
            return fresh;
        }
        merged
    }
}

#[cfg(feature = "jwks")]
fn merge(base: &JwtVerifier, jwks: &Jwks) -> Merged {
    let remote = jwks.current();
    Merged {
        version: remote.version,
        verifier: base.with_additional_keys(remote.keys.iter().cloned()),
    }
}
