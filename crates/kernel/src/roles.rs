//! Roles of Balaikota accounts and what each may do. The platform turns these rules into
//! capability handles (`Admin`, `Staff`, `OfficerOf`…) that handlers must obtain, so a forgotten
//! check is a type error rather than a hole.

use serde::{Deserialize, Serialize};

use crate::Lang;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the deployment for the city: agencies, accounts, settings, audit.
    Admin,
    /// Mayor, DPRD: read everything, change nothing.
    Leader,
    /// Command-center operator.
    Operator,
    /// Officer of one agency (OPD).
    Officer,
    /// Head of one agency (OPD).
    Head,
    /// Inspektorat: reads everything, receives escalations.
    Inspectorate,
    /// Staff of one health facility (puskesmas, hospital).
    HealthStaff,
    /// A resident with a NIK.
    Citizen,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Admin,
        Role::Leader,
        Role::Operator,
        Role::Officer,
        Role::Head,
        Role::Inspectorate,
        Role::HealthStaff,
        Role::Citizen,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Leader => "leader",
            Role::Operator => "operator",
            Role::Officer => "officer",
            Role::Head => "head",
            Role::Inspectorate => "inspectorate",
            Role::HealthStaff => "health_staff",
            Role::Citizen => "citizen",
        }
    }

    pub fn parse(code: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == code)
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Role::Admin, Lang::Id) => "Admin",
            (Role::Admin, Lang::En) => "Administrator",
            (Role::Leader, Lang::Id) => "Pimpinan (Wali Kota, DPRD)",
            (Role::Leader, Lang::En) => "Leader (mayor, council)",
            (Role::Operator, Lang::Id) => "Operator Command Center",
            (Role::Operator, Lang::En) => "Command center operator",
            (Role::Officer, Lang::Id) => "Petugas OPD",
            (Role::Officer, Lang::En) => "Agency officer",
            (Role::Head, Lang::Id) => "Kepala OPD",
            (Role::Head, Lang::En) => "Head of agency",
            (Role::Inspectorate, Lang::Id) => "Inspektorat",
            (Role::Inspectorate, Lang::En) => "Inspectorate",
            (Role::HealthStaff, Lang::Id) => "Petugas Kesehatan",
            (Role::HealthStaff, Lang::En) => "Health staff",
            (Role::Citizen, Lang::Id) => "Warga",
            (Role::Citizen, Lang::En) => "Citizen",
        }
    }

    /// Roles tied to one agency (OPD) or facility.
    pub fn needs_agency(self) -> bool {
        matches!(self, Role::Officer | Role::Head | Role::HealthStaff)
    }

    /// Anyone who works for the city (every role but citizen).
    pub fn is_staff(self) -> bool {
        self != Role::Citizen
    }

    /// May read every app's data across agencies (but not necessarily change it).
    pub fn reads_everything(self) -> bool {
        matches!(
            self,
            Role::Admin | Role::Leader | Role::Inspectorate | Role::Operator
        )
    }

    /// May change city-wide configuration (agencies, accounts).
    pub fn administers(self) -> bool {
        self == Role::Admin
    }

    /// May read the audit log.
    pub fn reads_audit(self) -> bool {
        matches!(self, Role::Admin | Role::Leader | Role::Inspectorate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.code()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn leaders_read_but_do_not_administer() {
        assert!(Role::Leader.reads_everything());
        assert!(!Role::Leader.administers());
        assert!(!Role::Citizen.is_staff());
        assert!(!Role::Officer.reads_everything());
        assert!(Role::Officer.needs_agency());
    }
}
