//! The login gate of the HTTP server: with authentication on (`serve --users`), every route but the login and
//! logout ones needs a session, given either as the `omnimarket_session` cookie the login page sets (browsers)
//! or as `Authorization: Bearer <token>` (scripts; the same tokens Flight SQL's Handshake issues, since both
//! servers share one [`Authenticator`]). Without one, a page redirects to the login form and the API answers
//! 401. The cookie is `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page sends it) and
//! `Secure` over TLS.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::Web;
use super::guard::error;
use crate::auth::{AuthError, Authenticator};

pub const COOKIE: &str = "omnimarket_session";

/// The routes open without a session.
pub const LOGIN_PATH: &str = "/login";
pub const LOGOUT_PATH: &str = "/logout";

/// Who is calling, for handlers (absent when authentication is off).
#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
}

/// The client's IP address, for login throttling (from the connection, see [`super::server`]).
pub struct Peer(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())))
    }
}

/// The session tokens a request carries: the Bearer token if there is an Authorization header (and only it),
/// else every `omnimarket_session` cookie. `Err` for an Authorization header that is not Bearer.
pub fn tokens(headers: &HeaderMap) -> Result<Vec<String>, AuthError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| AuthError::BadHeader)?;
        let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::BadHeader)?;
        if !scheme.eq_ignore_ascii_case("Bearer") || token.trim().is_empty() {
            return Err(AuthError::BadHeader);
        }
        return Ok(vec![token.trim().to_string()]);
    }
    let mut found = Vec::new();
    for value in headers.get_all(header::COOKIE) {
        let Ok(value) = value.to_str() else { continue };
        for pair in value.split(';') {
            if let Some((name, token)) = pair.trim().split_once('=')
                && name.trim() == COOKIE
                && !token.trim().is_empty()
            {
                found.push(token.trim().to_string());
            }
        }
    }
    Ok(found)
}

/// The session of a request, if one of its tokens is valid.
pub fn authenticate(auth: &Authenticator, headers: &HeaderMap) -> Result<Session, AuthError> {
    let mut last = AuthError::MissingHeader;
    for token in tokens(headers)? {
        match auth.check_token(&token) {
            Ok(user) => return Ok(Session { user }),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Message for an API client without a valid session (Flight's wording speaks of hand-shakes).
fn describe(e: &AuthError) -> &'static str {
    match e {
        AuthError::Expired => "session expired: log in again (POST /login)",
        AuthError::UnknownToken => "unknown session token: log in again (POST /login)",
        AuthError::BadHeader => "unsupported Authorization header: expected `Bearer <token>`",
        _ => "authentication required: log in (POST /login) or send `Authorization: Bearer <token>`",
    }
}

/// `/login?next=<this path>`.
pub fn login_redirect(next: &str) -> Response {
    let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    Redirect::to(&format!("{LOGIN_PATH}?next={next}")).into_response()
}

/// The gate (see the module docs).
pub async fn require_login(State(web): State<Arc<Web>>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !web.auth.enabled() || path == LOGIN_PATH || path == LOGOUT_PATH {
        return next.run(request).await;
    }
    match authenticate(&web.auth, request.headers()) {
        Ok(session) => {
            request.extensions_mut().insert(session);
            next.run(request).await
        }
        Err(e) if path.starts_with("/api/") => {
            let mut r = error(StatusCode::UNAUTHORIZED, describe(&e));
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            r
        }
        Err(_) => {
            let here = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
            login_redirect(here)
        }
    }
}

/// The `Set-Cookie` value for a new session (`max_age` seconds) or, with `None`, one that clears it.
pub fn cookie(token: Option<&str>, max_age: u64, secure: bool) -> String {
    let (value, age) = match token {
        Some(t) => (t, max_age),
        None => ("", 0),
    };
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={age}{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn bearer_wins_over_cookies() {
        let h = headers(&[("authorization", "bearer abc"), ("cookie", "omnimarket_session=xyz")]);
        assert_eq!(tokens(&h).expect("ok"), ["abc"]);
        let h = headers(&[("cookie", "theme=dark; omnimarket_session=one"), ("cookie", "omnimarket_session=two")]);
        assert_eq!(tokens(&h).expect("ok"), ["one", "two"]);
        assert!(tokens(&headers(&[("authorization", "Basic YTpi")])).is_err());
        assert!(tokens(&headers(&[])).expect("ok").is_empty());
    }

    #[test]
    fn cookie_attributes() {
        assert_eq!(cookie(Some("t"), 60, true), "omnimarket_session=t; HttpOnly; SameSite=Strict; Path=/; Max-Age=60; Secure");
        assert_eq!(cookie(None, 60, false), "omnimarket_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    }
}
