//! Stored rows read into domain values, by column index. Each SELECT of a
//! type lists its columns through the macro next to its decoder, so the
//! order is written once.

use super::db::{FromRow, Row};
use crate::domain::error::{Error, Result};
use crate::domain::org::{Org, OrgId};
use crate::domain::phone::Phone;
use crate::domain::sessions::{Session, SessionTokens};
use crate::domain::user::{User, UserId};

/// The columns `User::from_row` reads, in its order.
macro_rules! user_columns {
    () => {
        "users.id, users.username, users.email, users.phone, users.first_name, users.last_name, \
         users.role, users.is_active, users.otp_enabled, users.date_joined, users.last_login, \
         users.profile, users.password_hash, users.tokens_valid_after, users.is_staff"
    };
}
pub(crate) use user_columns;

/// Columns of `user_columns!` that come before any extra column.
pub const USER_WIDTH: usize = 15;

impl FromRow for User {
    fn from_row(r: &dyn Row) -> Result<Self> {
        let id = r.int(0)?;
        let profile = match serde_json::from_str(&r.text(11)?) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => {
                return Err(Error::Internal(format!(
                    "user {id} has a profile that is not a JSON object"
                )))
            }
        };
        let phone = r
            .opt_text(3)?
            .map(|p| {
                Phone::parse(&p)
                    .map_err(|_| Error::Internal(format!("user {id} has a bad stored phone")))
            })
            .transpose()?;
        Ok(User {
            id: UserId(id),
            username: r.opt_text(1)?,
            email: r.opt_text(2)?,
            phone,
            first_name: r.text(4)?,
            last_name: r.text(5)?,
            role: r.opt_text(6)?,
            is_active: r.boolean(7)?,
            otp_enabled: r.boolean(8)?,
            date_joined: r.int(9)?,
            last_login: r.opt_int(10)?,
            profile,
            password_hash: r.opt_text(12)?,
            tokens_valid_after: r.opt_int(13)?,
            is_staff: r.boolean(14)?,
        })
    }
}

/// A user with a flag computed beside it (`user_columns!(), <flag>`).
pub struct FlaggedUser(pub User, pub bool);

impl FromRow for FlaggedUser {
    fn from_row(r: &dyn Row) -> Result<Self> {
        Ok(FlaggedUser(User::from_row(r)?, r.boolean(USER_WIDTH)?))
    }
}

impl FromRow for Org {
    fn from_row(r: &dyn Row) -> Result<Self> {
        Ok(Org {
            id: OrgId(r.int(0)?),
            name: r.text(1)?,
            kind: r.opt_text(2)?,
            is_verified: r.boolean(3)?,
        })
    }
}

impl FromRow for Session {
    fn from_row(r: &dyn Row) -> Result<Self> {
        Ok(Session {
            id: r.text(0)?,
            user: UserId(r.int(1)?),
            created_at: r.int(2)?,
            current: SessionTokens {
                refresh_jti: r.text(3)?,
                access_jti: r.text(4)?,
                issued_at: r.int(5)?,
                refresh_exp: r.int(6)?,
                access_exp: r.int(7)?,
            },
            previous_jti: r.opt_text(8)?,
            rotated_at: r.opt_int(9)?,
            ended_at: r.opt_int(10)?,
        })
    }
}

/// Two columns.
impl<A: FromColumn, B: FromColumn> FromRow for (A, B) {
    fn from_row(r: &dyn Row) -> Result<Self> {
        Ok((A::column(r, 0)?, B::column(r, 1)?))
    }
}

/// One column of a tuple row.
pub trait FromColumn: Sized + Send + 'static {
    fn column(r: &dyn Row, i: usize) -> Result<Self>;
}

impl FromColumn for i64 {
    fn column(r: &dyn Row, i: usize) -> Result<Self> {
        r.int(i)
    }
}
impl FromColumn for Option<i64> {
    fn column(r: &dyn Row, i: usize) -> Result<Self> {
        r.opt_int(i)
    }
}
impl FromColumn for String {
    fn column(r: &dyn Row, i: usize) -> Result<Self> {
        r.text(i)
    }
}
impl FromColumn for Option<String> {
    fn column(r: &dyn Row, i: usize) -> Result<Self> {
        r.opt_text(i)
    }
}
impl FromColumn for bool {
    fn column(r: &dyn Row, i: usize) -> Result<Self> {
        r.boolean(i)
    }
}
