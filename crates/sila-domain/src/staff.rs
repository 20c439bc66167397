//! Staff accounts and their roles. Roles decide which lifecycle transitions a person may take
//! (see `case::rules`) and what they may see; passwords and keys are the store's business, not this module's.

use crate::ids::StaffId;
use serde::{Deserialize, Serialize};

/// What a staff member does for the charity. One account may hold several roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Branch representative / beneficiary-relations employee (مندوب، موظف علاقات المستفيدين).
    Representative,
    /// Social researcher (باحث اجتماعي).
    Researcher,
    /// Research committee member (عضو لجنة البحث).
    Committee,
    /// Headquarters staff (موظف المقر): merges, conflicts, reports.
    HqStaff,
    /// Administrator: accounts, devices, knowledge base. May take any branch transition.
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Representative,
        Role::Researcher,
        Role::Committee,
        Role::HqStaff,
        Role::Admin,
    ];

    /// The roles a branch account may hold. The committee decides and HQ staff merge at
    /// headquarters only (design.md): a branch account holding either could take a decision on
    /// a branch device, so the branch store, the desktop and the HQ console all refuse them.
    pub const BRANCH: [Role; 3] = [Role::Representative, Role::Researcher, Role::Admin];

    /// Is this a headquarters role, never held by a branch account?
    pub fn is_hq(self) -> bool {
        !Role::BRANCH.contains(&self)
    }

    pub fn code(self) -> &'static str {
        match self {
            Role::Representative => "representative",
            Role::Researcher => "researcher",
            Role::Committee => "committee",
            Role::HqStaff => "hq_staff",
            Role::Admin => "admin",
        }
    }
    pub fn from_code(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == s)
    }
    pub fn arabic(self) -> &'static str {
        match self {
            Role::Representative => "موظف علاقات المستفيدين",
            Role::Researcher => "باحث اجتماعي",
            Role::Committee => "لجنة البحث",
            Role::HqStaff => "موظف المقر",
            Role::Admin => "مدير النظام",
        }
    }
}

/// A staff account as the domain sees it (no secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffAccount {
    pub id: StaffId,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    pub branch: String,
    pub active: bool,
}

/// Who is acting, passed into every rule that depends on a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub staff_id: StaffId,
    pub display_name: String,
    pub roles: Vec<Role>,
    pub branch: String,
}

impl Actor {
    pub fn has_any(&self, roles: &[Role]) -> bool {
        self.roles.iter().any(|r| roles.contains(r))
    }
}

impl From<&StaffAccount> for Actor {
    fn from(a: &StaffAccount) -> Self {
        Actor {
            staff_id: a.id,
            display_name: a.display_name.clone(),
            roles: a.roles.clone(),
            branch: a.branch.clone(),
        }
    }
}
