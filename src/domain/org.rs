//! Organizations (kikapu's businesses) and their members.

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrgId(pub i64);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: OrgId,
    pub name: String,
    pub kind: Option<String>,
    pub is_verified: bool,
}

#[derive(Debug, Clone, Default)]
pub struct NewOrg {
    pub name: String,
    pub kind: Option<String>,
    pub is_verified: bool,
}
