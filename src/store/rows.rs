//! Row types shared by the SQL backends, and their conversion to domain values.

use crate::domain::org::{Org, OrgId};
use crate::domain::phone::Phone;
use crate::domain::sessions::{Session, SessionTokens};
use crate::domain::user::{User, UserId};
use crate::domain::Error;

#[derive(Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub role: Option<String>,
    pub is_active: bool,
    pub otp_enabled: bool,
    pub date_joined: i64,
    pub last_login: Option<i64>,
    pub profile: String,
    pub password_hash: Option<String>,
}

/// A user row with a flag computed beside it.
#[derive(Debug, sqlx::FromRow)]
pub struct FlaggedUserRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub flag: bool,
}

pub const USER_COLUMNS: &str =
    "id, username, email, phone, first_name, last_name, role, is_active, \
     otp_enabled, date_joined, last_login, profile, password_hash";

impl TryFrom<UserRow> for User {
    type Error = Error;

    fn try_from(r: UserRow) -> Result<Self, Error> {
        let profile = match serde_json::from_str(&r.profile).map_err(Error::internal)? {
            serde_json::Value::Object(m) => m,
            _ => {
                return Err(Error::Internal(format!(
                    "user {} has a non-object profile",
                    r.id
                )))
            }
        };
        let phone = r
            .phone
            .map(|p| {
                Phone::parse(&p)
                    .map_err(|_| Error::Internal(format!("user {} has a bad stored phone", r.id)))
            })
            .transpose()?;
        Ok(User {
            id: UserId(r.id),
            username: r.username,
            email: r.email,
            phone,
            first_name: r.first_name,
            last_name: r.last_name,
            role: r.role,
            is_active: r.is_active,
            otp_enabled: r.otp_enabled,
            date_joined: r.date_joined,
            last_login: r.last_login,
            profile,
            password_hash: r.password_hash,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct OrgRow {
    pub id: i64,
    pub name: String,
    pub kind: Option<String>,
    pub is_verified: bool,
}

impl From<OrgRow> for Org {
    fn from(r: OrgRow) -> Self {
        Org {
            id: OrgId(r.id),
            name: r.name,
            kind: r.kind,
            is_verified: r.is_verified,
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub user_id: i64,
    pub created_at: i64,
    pub refresh_jti: String,
    pub access_jti: String,
    pub issued_at: i64,
    pub refresh_exp: i64,
    pub access_exp: i64,
    pub previous_jti: Option<String>,
    pub rotated_at: Option<i64>,
    pub ended_at: Option<i64>,
}

impl From<SessionRow> for Session {
    fn from(r: SessionRow) -> Self {
        Session {
            id: r.id,
            user: UserId(r.user_id),
            created_at: r.created_at,
            current: SessionTokens {
                refresh_jti: r.refresh_jti,
                access_jti: r.access_jti,
                issued_at: r.issued_at,
                refresh_exp: r.refresh_exp,
                access_exp: r.access_exp,
            },
            previous_jti: r.previous_jti,
            rotated_at: r.rotated_at,
            ended_at: r.ended_at,
        }
    }
}
