//! The class of a managed key: which routes it opens.

use std::fmt;
use std::str::FromStr;

use auth_core::policy::RouteClass;

/// What a managed key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyClass {
    /// `ingest` routes (`/ingest/` by default).
    Ingest,
    /// `consumption` routes (`/api/` by default).
    Consumption,
    /// `admin` routes, like the admin credential.
    Admin,
    /// A token-issuer project: `POST /auth/token` with `projectId` = the key's name.
    Project,
}

/// A class name that is not one of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown key class: expected ingest, consumption, admin or project")]
pub struct ClassError;

impl KeyClass {
    /// Every class.
    pub const ALL: [Self; 4] = [Self::Ingest, Self::Consumption, Self::Admin, Self::Project];

    /// The lower-case name used in the CLI, the API and the store.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ingest => "ingest",
            Self::Consumption => "consumption",
            Self::Admin => "admin",
            Self::Project => "project",
        }
    }

    /// The route class its keys open (`None` for projects, which open no route themselves).
    #[must_use]
    pub fn route_class(self) -> Option<RouteClass> {
        match self {
            Self::Ingest => Some(RouteClass::Ingest),
            Self::Consumption => Some(RouteClass::Consumption),
            Self::Admin => Some(RouteClass::Admin),
            Self::Project => None,
        }
    }

    /// The key class that opens `class` (`None` for public routes).
    #[must_use]
    pub fn of_route(class: RouteClass) -> Option<Self> {
        match class {
            RouteClass::Ingest => Some(Self::Ingest),
            RouteClass::Consumption => Some(Self::Consumption),
            RouteClass::Admin => Some(Self::Admin),
            RouteClass::Public => None,
        }
    }

    pub(crate) fn bit(self) -> u8 {
        match self {
            Self::Ingest => 1,
            Self::Consumption => 2,
            Self::Admin => 4,
            Self::Project => 8,
        }
    }
}

impl FromStr for KeyClass {
    type Err = ClassError;

    fn from_str(text: &str) -> Result<Self, ClassError> {
        Self::ALL
            .into_iter()
            .find(|class| class.as_str() == text)
            .ok_or(ClassError)
    }
}

impl fmt::Display for KeyClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
