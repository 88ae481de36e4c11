//! User and organization administration, as operators do it: the rules a
//! user must keep whoever creates or changes it.

use super::clock::UnixTime;
use super::error::{Error, Result};
use super::org::{NewOrg, Org, OrgId};
use super::otp::OtpKey;
use super::password;
use super::password_policy::{self, Owner};
use super::phone::{Phone, PhoneError};
use super::ports::Store;
use super::secret::Secret;
use super::user::{NewUser, User, UserId, UserPatch};
use serde_json::{Map, Value};

/// What an operator gives for a user; None leaves a field unset (or unchanged).
#[derive(Debug, Clone, Default)]
pub struct UserInput {
    pub username: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub password: Option<Secret>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub role: Option<String>,
    pub otp_enabled: Option<bool>,
    pub is_active: Option<bool>,
    /// A JSON object of further attributes; replaces the stored one.
    pub profile: Option<String>,
    /// May sign in to the admin console.
    pub is_staff: Option<bool>,
}

impl UserInput {
    /// The names of the fields given, for the audit trail: which fields an
    /// operator set, never their values.
    pub fn fields(&self) -> Vec<&'static str> {
        [
            ("username", self.username.is_some()),
            ("phone", self.phone.is_some()),
            ("email", self.email.is_some()),
            ("password", self.password.is_some()),
            ("first_name", self.first_name.is_some()),
            ("last_name", self.last_name.is_some()),
            ("role", self.role.is_some()),
            ("otp_enabled", self.otp_enabled.is_some()),
            ("is_active", self.is_active.is_some()),
            ("profile", self.profile.is_some()),
            ("is_staff", self.is_staff.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, given)| given.then_some(name))
        .collect()
    }
}

/// Django's username rule: 1 to 150 of letters, digits and `@ . + - _`.
fn check_username(u: &str) -> Result<String> {
    let ok = !u.is_empty()
        && u.chars().count() <= 150
        && u.chars()
            .all(|c| c.is_alphanumeric() || "@.+-_".contains(c));
    if ok {
        Ok(u.to_owned())
    } else {
        Err(Error::Invalid(format!(
            "username {u:?}: use 1 to 150 letters, digits and @ . + - _ only"
        )))
    }
}

fn check_email(e: &str) -> Result<String> {
    let e = e.trim();
    let ok = e.len() <= 254
        && !e.chars().any(char::is_whitespace)
        && matches!(e.split_once('@'), Some((local, domain)) if !local.is_empty() && domain.contains('.') && !domain.contains('@'));
    if ok {
        Ok(e.to_owned())
    } else {
        Err(Error::Invalid(format!(
            "email {e:?} is not a valid address"
        )))
    }
}

fn check_phone(p: &str, dialable: bool) -> Result<Phone> {
    let parsed = if dialable {
        Phone::parse_dialable(p)
    } else {
        Phone::parse(p)
    };
    parsed.map_err(|e| match e {
        PhoneError::NotE164 => Error::Invalid(format!(
            "phone {p:?} must be in E.164 format: +, country code and number, at most 15 digits"
        )),
        PhoneError::NotDialable => Error::Invalid(format!("phone {p:?} is not a dialable number")),
    })
}

fn check_profile(p: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str(p) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Error::Invalid("profile must be a JSON object".into())),
        Err(e) => Err(Error::Invalid(format!("profile is not valid JSON: {e}"))),
    }
}

async fn hash(password: Secret) -> Result<String> {
    tokio::task::spawn_blocking(move || password::hash_now(&password))
        .await
        .map_err(Error::internal)?
}

fn no_blank(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Create a user: at least one of username, phone, email, each unique.
pub async fn create_user(
    store: &dyn Store,
    input: UserInput,
    now: UnixTime,
    dialable: bool,
) -> Result<User> {
    let username = no_blank(input.username)
        .map(|u| check_username(&u))
        .transpose()?;
    let phone = no_blank(input.phone)
        .map(|p| check_phone(&p, dialable))
        .transpose()?;
    let email = no_blank(input.email).map(|e| check_email(&e)).transpose()?;
    if username.is_none() && phone.is_none() && email.is_none() {
        return Err(Error::Invalid(
            "give at least one of --username, --phone, --email".into(),
        ));
    }
    let otp_enabled = input.otp_enabled.unwrap_or(false);
    if otp_enabled && phone.is_none() {
        return Err(Error::Invalid(
            "--otp-enabled needs a --phone to send codes to".into(),
        ));
    }
    let profile = input
        .profile
        .map(|p| check_profile(&p))
        .transpose()?
        .unwrap_or_default();
    let password_hash = match input.password {
        Some(p) => {
            password_policy::check(
                &p,
                Owner {
                    username: username.as_deref(),
                    email: email.as_deref(),
                    phone: phone.as_ref().map(Phone::as_str),
                },
            )?;
            Some(hash(p).await?)
        }
        None => None,
    };
    store
        .create_user(&NewUser {
            username,
            email,
            phone,
            first_name: input.first_name.unwrap_or_default(),
            last_name: input.last_name.unwrap_or_default(),
            role: no_blank(input.role),
            is_active: input.is_active.unwrap_or(true),
            otp_enabled,
            profile,
            password_hash,
            date_joined: now,
            is_staff: input.is_staff.unwrap_or(false),
        })
        .await
}

/// Change the fields given; the rest stay as they are. Reactivating the
/// user or setting its password ends every token issued before (INTERFACE.md,
/// "Administration").
pub async fn update_user(
    store: &dyn Store,
    id: UserId,
    input: UserInput,
    now: UnixTime,
    dialable: bool,
) -> Result<User> {
    let current = store.user_by_id(id).await?.ok_or(Error::NotFound("user"))?;
    let phone = no_blank(input.phone)
        .map(|p| check_phone(&p, dialable))
        .transpose()?;
    if input.otp_enabled == Some(true) && phone.is_none() && current.phone.is_none() {
        return Err(Error::Invalid(
            "--otp-enabled needs a --phone to send codes to".into(),
        ));
    }
    let username = no_blank(input.username)
        .map(|u| check_username(&u))
        .transpose()?;
    let email = no_blank(input.email).map(|e| check_email(&e)).transpose()?;
    let profile = input.profile.map(|p| check_profile(&p)).transpose()?;
    // The password is checked against the account as it will be after this change.
    let password_hash = match input.password {
        Some(p) => {
            password_policy::check(
                &p,
                Owner {
                    username: username.as_deref().or(current.username.as_deref()),
                    email: email.as_deref().or(current.email.as_deref()),
                    phone: phone.as_ref().or(current.phone.as_ref()).map(Phone::as_str),
                },
            )?;
            Some(hash(p).await?)
        }
        None => None,
    };
    let reactivated = input.is_active == Some(true) && !current.is_active;
    if reactivated || password_hash.is_some() {
        // Revoked first: should the change then fail, old tokens are dead
        // and nothing was reactivated, never the reverse.
        store.revoke_tokens(id, now).await?;
    }
    let patch = UserPatch {
        username,
        email,
        phone,
        first_name: input.first_name,
        last_name: input.last_name,
        role: no_blank(input.role),
        is_active: input.is_active,
        otp_enabled: input.otp_enabled,
        profile,
        password_hash,
        is_staff: input.is_staff,
    };
    store.update_user(id, &patch).await
}

/// End every refresh token, session and access token issued to the user
/// until now (`accountd user logout`).
pub async fn logout_user(store: &dyn Store, id: UserId, now: UnixTime) -> Result<User> {
    store.user_by_id(id).await?.ok_or(Error::NotFound("user"))?;
    store.revoke_tokens(id, now).await?;
    store.user_by_id(id).await?.ok_or(Error::NotFound("user"))
}

/// The names a user signs in with by password: failed logins are counted
/// under each (INTERFACE.md, "Abuse limits").
pub fn login_names(user: &User) -> Vec<&str> {
    user.username
        .as_deref()
        .into_iter()
        .chain(user.phone.as_ref().map(Phone::as_str))
        .collect()
}

/// Clear the failed-login throttle of every name the user signs in with
/// (`accountd user unlock`); how many counted attempts went.
pub async fn unlock_user(store: &dyn Store, key: &OtpKey, id: UserId) -> Result<u64> {
    let user = store.user_by_id(id).await?.ok_or(Error::NotFound("user"))?;
    let tags: Vec<String> = login_names(&user)
        .into_iter()
        .map(|n| login_key(key, n))
        .collect();
    store.clear_attempts("login", &tags).await
}

/// The key failed logins of a name are counted under: a keyed tag of the
/// name as typed, so that nothing typed is stored.
pub fn login_key(key: &OtpKey, name: &str) -> String {
    key.tag("login_name", name)
}

pub async fn deactivate_user(store: &dyn Store, id: UserId) -> Result<User> {
    let patch = UserPatch {
        is_active: Some(false),
        ..UserPatch::default()
    };
    store.update_user(id, &patch).await
}

pub async fn create_org(
    store: &dyn Store,
    name: &str,
    kind: Option<String>,
    verified: bool,
) -> Result<Org> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::Invalid("organization name must not be empty".into()));
    }
    store
        .create_org(&NewOrg {
            name: name.to_owned(),
            kind: no_blank(kind),
            is_verified: verified,
        })
        .await
}

pub async fn add_member(store: &dyn Store, org: OrgId, user: UserId) -> Result<()> {
    store
        .org_by_id(org)
        .await?
        .ok_or(Error::NotFound("organization"))?;
    store
        .user_by_id(user)
        .await?
        .ok_or(Error::NotFound("user"))?;
    store.add_member(org, user).await
}
