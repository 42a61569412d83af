//! Permissions as capabilities: a handler that takes `Admin` can only run for an admin, one
//! that takes `OfficerOf` only for an officer or head of an agency, and so on. Without a session
//! the visitor is sent to the login page (HTML) or gets 401 (API); with the wrong role, 403.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use uuid::Uuid;

use super::context::Ctx;
use crate::accounts::Account;
use crate::error::AppError;
use kernel::roles::Role;

fn require(parts: &Parts, allowed: fn(Role) -> bool) -> Result<(Ctx, Account), AppError> {
    let ctx = parts
        .extensions
        .get::<Ctx>()
        .cloned()
        .ok_or(AppError::UnknownCity)?;
    let user = ctx.user.clone().ok_or(AppError::Unauthorized)?;
    if !allowed(user.role) {
        return Err(AppError::Forbidden);
    }
    Ok((ctx, user))
}

macro_rules! capability {
    ($(#[$doc:meta])* $name:ident, $pred:expr) => {
        $(#[$doc])*
        pub struct $name {
            pub ctx: Ctx,
            pub user: Account,
        }

        impl<S: Send + Sync> FromRequestParts<S> for $name {
            type Rejection = AppError;
            async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
                let (ctx, user) = require(parts, $pred)?;
                Ok($name { ctx, user })
            }
        }
    };
}

capability!(
    /// Anyone logged in.
    SignedIn,
    |_| true
);
capability!(
    /// Any city staff (every role but citizen).
    Staff,
    Role::is_staff
);
capability!(
    /// May read every app's data across agencies: admin, leader, operator, inspectorate.
    Reader,
    Role::reads_everything
);
capability!(
    /// May read the audit log: admin, leader, inspectorate.
    AuditReader,
    Role::reads_audit
);
capability!(
    /// May change the city's configuration.
    Admin,
    Role::administers
);
capability!(
    /// A resident.
    Citizen,
    |r| r == Role::Citizen
);

/// An officer or head of one agency, with that agency's id.
pub struct OfficerOf {
    pub ctx: Ctx,
    pub user: Account,
    pub agency_id: Uuid,
}

impl<S: Send + Sync> FromRequestParts<S> for OfficerOf {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let (ctx, user) = require(parts, |r| matches!(r, Role::Officer | Role::Head))?;
        let agency_id = user.agency_id.ok_or(AppError::Forbidden)?;
        Ok(OfficerOf {
            ctx,
            user,
            agency_id,
        })
    }
}

/// Health staff of one facility, with that facility's id.
pub struct HealthStaffOf {
    pub ctx: Ctx,
    pub user: Account,
    pub facility_id: Uuid,
}

impl<S: Send + Sync> FromRequestParts<S> for HealthStaffOf {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let (ctx, user) = require(parts, |r| r == Role::HealthStaff)?;
        let facility_id = user.agency_id.ok_or(AppError::Forbidden)?;
        Ok(HealthStaffOf {
            ctx,
            user,
            facility_id,
        })
    }
}
