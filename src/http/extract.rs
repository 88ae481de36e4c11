//! Request bodies as Django REST Framework reads them: JSON or
//! `application/x-www-form-urlencoded`, into a map of fields with DRF's field
//! rules and messages. Every rejection becomes the contract's own error type.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use serde_json::{Map, Value};
use std::marker::PhantomData;

/// Why a body could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Not valid JSON; DRF says "JSON parse error - <reason>".
    Parse(String),
    /// Valid JSON, but not an object; the Python type name DRF would report.
    NotObject(&'static str),
    /// Larger than the configured limit.
    TooLarge,
    /// A content type that is neither JSON nor a form.
    UnsupportedMediaType(String),
}

impl BodyError {
    /// The sentence DRF puts in `detail` (or a contract in its message).
    pub fn message(&self) -> String {
        match self {
            BodyError::Parse(e) => format!("JSON parse error - {e}"),
            BodyError::NotObject(kind) => {
                format!("Invalid data. Expected a dictionary, but got {kind}.")
            }
            BodyError::TooLarge => "Request body is too large.".to_owned(),
            BodyError::UnsupportedMediaType(t) => {
                format!("Unsupported media type \"{t}\" in request.")
            }
        }
    }
}

/// DRF's per-field validation failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldError {
    Required,
    Null,
    Blank,
    NotString,
    NotInteger,
    /// DRF's ProhibitNullCharactersValidator, on every CharField.
    NullCharacters,
}

impl FieldError {
    pub fn message(self) -> &'static str {
        match self {
            FieldError::Required => "This field is required.",
            FieldError::Null => "This field may not be null.",
            FieldError::Blank => "This field may not be blank.",
            FieldError::NotString => "Not a valid string.",
            FieldError::NotInteger => "A valid integer is required.",
            FieldError::NullCharacters => "Null characters are not allowed.",
        }
    }
}

/// Field errors in the order the fields were asked for, as a DRF serializer reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<(&'static str, FieldError)>);

impl FieldErrors {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether any field failed with `e`.
    pub fn has(&self, e: FieldError) -> bool {
        self.0.iter().any(|(_, got)| *got == e)
    }

    /// `{"field": ["message"], …}`
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        for (field, e) in &self.0 {
            m.insert((*field).to_owned(), Value::from(vec![e.message()]));
        }
        Value::Object(m)
    }

    /// "field: message" joined, for contracts whose errors are one sentence.
    pub fn sentence(&self) -> String {
        self.0
            .iter()
            .map(|(f, e)| format!("{f}: {}", e.message()))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A request body read into fields; `E` is the contract's error type.
#[derive(Debug, Clone)]
pub struct Fields<E> {
    map: Map<String, Value>,
    errors: FieldErrors,
    _contract: PhantomData<E>,
}

impl<E> Fields<E> {
    fn new(map: Map<String, Value>) -> Self {
        Self {
            map,
            errors: FieldErrors::default(),
            _contract: PhantomData,
        }
    }

    fn string_value(v: &Value) -> Result<Option<String>, FieldError> {
        match v {
            Value::Null => Err(FieldError::Null),
            // No store can hold a NUL in text (PostgreSQL refuses it); DRF
            // refuses it first, as a field error.
            Value::String(s) if s.contains('\0') => Err(FieldError::NullCharacters),
            Value::String(s) => Ok(Some(s.clone())),
            // DRF's CharField takes numbers as their text, but not booleans.
            Value::Number(n) => Ok(Some(n.to_string())),
            _ => Err(FieldError::NotString),
        }
    }

    /// A required, non-blank string field. Failures are collected.
    pub fn string(&mut self, name: &'static str) -> String {
        let got = match self.map.get(name) {
            None => Err(FieldError::Required),
            Some(v) => Self::string_value(v).and_then(|s| match s {
                Some(s) if !s.is_empty() => Ok(s),
                _ => Err(FieldError::Blank),
            }),
        };
        got.unwrap_or_else(|e| {
            self.errors.0.push((name, e));
            String::new()
        })
    }

    /// An optional string field: absent, null or blank is None.
    pub fn optional_string(&mut self, name: &'static str) -> Option<String> {
        match self.map.get(name).map(Self::string_value) {
            None | Some(Err(FieldError::Null)) => None,
            Some(Ok(s)) => s.filter(|s| !s.is_empty()),
            Some(Err(e)) => {
                self.errors.0.push((name, e));
                None
            }
        }
    }

    /// An optional integer field: a JSON integer or a string of digits, as DRF's IntegerField.
    pub fn optional_integer(&mut self, name: &'static str) -> Option<i64> {
        let parsed = match self.map.get(name) {
            None | Some(Value::Null) => return None,
            Some(Value::String(s)) if s.trim().is_empty() => return None,
            Some(Value::Number(n)) => n.as_i64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                    .map(|f| f as i64)
            }),
            Some(Value::String(s)) => s.trim().parse().ok(),
            Some(_) => None,
        };
        if parsed.is_none() {
            self.errors.0.push((name, FieldError::NotInteger));
        }
        parsed
    }

    pub fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// The raw value of a field, for contracts with rules of their own.
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.map.get(name)
    }

    /// The collected failures, if any field was bad.
    pub fn finish(self) -> Result<(), FieldErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}

fn python_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, BodyError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_owned();
    let is_form = mime == "application/x-www-form-urlencoded";
    let is_json = mime == "application/json" || mime.ends_with("+json");
    if !is_form && !is_json && !mime.is_empty() {
        return Err(BodyError::UnsupportedMediaType(mime));
    }
    // An empty body is an empty form, as DRF treats it.
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    if is_form {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(body).map_err(|e| BodyError::Parse(e.to_string()))?;
        // Repeated keys: the last one wins, as QueryDict.get.
        return Ok(pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(BodyError::NotObject(python_type(&other))),
        Err(e) => Err(BodyError::Parse(e.to_string())),
    }
}

impl<S, E> FromRequest<S> for Fields<E>
where
    S: Send + Sync,
    E: From<BodyError> + IntoResponse,
{
    type Rejection = E;

    async fn from_request(req: Request, state: &S) -> Result<Self, E> {
        let headers = req.headers().clone();
        // `Bytes` honours the DefaultBodyLimit layer; any failure to read the
        // body at that size is reported as too large.
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|_| E::from(BodyError::TooLarge))?;
        parse(&headers, &body).map(Fields::new).map_err(E::from)
    }
}

/// The token of an `Authorization: Bearer <token>` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bearer {
    /// No Authorization header, or one of another scheme.
    Missing,
    /// `Bearer` with no token, or with more than one part.
    Malformed,
    Token(String),
}

impl Bearer {
    pub fn from_headers(headers: &HeaderMap) -> Bearer {
        let Some(value) = headers.get(AUTHORIZATION) else {
            return Bearer::Missing;
        };
        let Ok(text) = value.to_str() else {
            return Bearer::Malformed;
        };
        let parts: Vec<&str> = text.split_whitespace().collect();
        match parts.as_slice() {
            // An empty header is no credentials, as simplejwt's get_raw_token reads it.
            [] => Bearer::Missing,
            [scheme, ..] if !scheme.eq_ignore_ascii_case("bearer") => Bearer::Missing,
            [_, token] => Bearer::Token((*token).to_owned()),
            _ => Bearer::Malformed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(ct: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if !ct.is_empty() {
            h.insert(CONTENT_TYPE, ct.parse().unwrap());
        }
        h
    }

    #[test]
    fn json_and_forms_both_read_into_fields() {
        let m = parse(&headers("application/json"), br#"{"a":"1","b":2}"#).unwrap();
        assert_eq!(Value::Object(m), serde_json::json!({"a":"1","b":2}));
        let m = parse(
            &headers("application/x-www-form-urlencoded; charset=utf-8"),
            b"a=1&a=x%2By&b=",
        )
        .unwrap();
        assert_eq!(Value::Object(m), serde_json::json!({"a":"x+y","b":""}));
        assert!(parse(&headers(""), b"").unwrap().is_empty());
    }

    #[test]
    fn bad_bodies_are_named_as_drf_names_them() {
        assert_eq!(
            parse(&headers("application/json"), b"[1]"),
            Err(BodyError::NotObject("list"))
        );
        assert_eq!(
            parse(&headers("text/plain"), b"x").unwrap_err().message(),
            "Unsupported media type \"text/plain\" in request."
        );
        assert!(parse(&headers("application/json"), b"{")
            .unwrap_err()
            .message()
            .starts_with("JSON parse error - "));
    }

    #[test]
    fn fields_follow_drf_rules() {
        let mut f: Fields<()> = Fields::new(
            serde_json::from_str(
                r#"{"a":"x","n":12,"b":true,"e":"","z":null,"l":[1],"i":"7","nul":"a\u0000b"}"#,
            )
            .unwrap(),
        );
        assert_eq!(f.string("a"), "x");
        assert_eq!(f.string("n"), "12");
        f.string("b");
        f.string("e");
        f.string("z");
        f.string("missing");
        assert_eq!(f.optional_string("l"), None);
        assert_eq!(f.optional_integer("i"), Some(7));
        assert_eq!(f.optional_string("nul"), None);
        let errs = f.finish().unwrap_err();
        assert_eq!(
            errs.to_json(),
            serde_json::json!({
                "b": ["Not a valid string."], "e": ["This field may not be blank."],
                "z": ["This field may not be null."], "missing": ["This field is required."],
                "l": ["Not a valid string."], "nul": ["Null characters are not allowed."]
            })
        );
    }

    #[test]
    fn bearer_headers_are_read_like_simplejwt() {
        let mut h = HeaderMap::new();
        assert_eq!(Bearer::from_headers(&h), Bearer::Missing);
        h.insert(AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(Bearer::from_headers(&h), Bearer::Token("abc".into()));
        h.insert(AUTHORIZATION, "Bearer".parse().unwrap());
        assert_eq!(Bearer::from_headers(&h), Bearer::Malformed);
        h.insert(AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(Bearer::from_headers(&h), Bearer::Missing);
        h.insert(AUTHORIZATION, "".parse().unwrap());
        assert_eq!(Bearer::from_headers(&h), Bearer::Missing);
    }
}
