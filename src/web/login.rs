//! The login form and logout button of the HTTP server: `GET /login` shows the form, `POST /login` trades a
//! user name and password (the same users file as Flight SQL) for a session cookie, `POST /logout` forgets the
//! session. Failed logins are throttled by the shared [`crate::auth::Authenticator`] per client address and per
//! user; the answer never says whether the user name exists. Cross-site posts to both are refused by the
//! Origin check ([`super::guard`]) and the cookie is `SameSite=Strict` ([`super::session`]).

use std::fmt::Write;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::Web;
use super::guard::{Site, error, has_content_type, read_body};
use super::html::{self, Links, esc};
use super::session::{self, Peer};
use crate::auth::AuthError;

/// A login form is a few short fields.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// Where to go after logging in: a local path (`/x`, not `//host` or `/\host`, which browsers read as another
/// host), else `/`.
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && n.bytes().all(|b| b.is_ascii_graphic()) => n,
        _ => "/",
    }
}

fn form_page(next: &str, user: &str, message: Option<&str>) -> String {
    let mut body = String::from(r#"<section class="login"><h1>Connexion</h1>"#);
    if let Some(m) = message {
        let _ = write!(body, r#"<p class="error" role="alert">{}</p>"#, esc(m));
    }
    let _ = write!(
        body,
        r#"<form method="post" action="/login">
<input type="hidden" name="next" value="{}">
<label>Utilisateur<input name="user" value="{}" autocomplete="username" required autofocus></label>
<label>Mot de passe<input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Se connecter</button>
</form></section>"#,
        esc(next),
        esc(user)
    );
    html::page("Connexion", &[], None, Links::Server, &body)
}

fn show_form(status: StatusCode, next: &str, user: &str, message: Option<&str>) -> Response {
    (status, Html(form_page(next, user, message))).into_response()
}

/// `GET /login?next=/page`: the form, or straight to `next` when already logged in (or when there is no login).
pub async fn form(State(web): State<Arc<Web>>, headers: HeaderMap, Query(params): Query<Vec<(String, String)>>) -> Response {
    let next = safe_next(params.iter().find(|(k, _)| k == "next").map(|(_, v)| v.as_str()));
    if !web.auth.enabled() || session::authenticate(&web.auth, &headers).is_ok() {
        return Redirect::to(next).into_response();
    }
    show_form(StatusCode::OK, next, "", None)
}

fn with_retry_after(mut r: Response, secs: u64) -> Response {
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    r
}

/// `POST /login` (form fields `user`, `password`, optional `next`).
pub async fn submit(
    State(web): State<Arc<Web>>,
    Extension(site): Extension<Arc<Site>>,
    Peer(peer): Peer,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !has_content_type(&headers, "application/x-www-form-urlencoded") {
        return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "send the login as an HTML form (application/x-www-form-urlencoded)");
    }
    let body = match read_body(body, MAX_FORM_BYTES).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (mut user, mut password, mut next) = (String::new(), String::new(), None);
    for (k, v) in url::form_urlencoded::parse(&body) {
        match &*k {
            "user" => user = v.into_owned(),
            "password" => password = v.into_owned(),
            "next" => next = Some(v.into_owned()),
            _ => {}
        }
    }
    let next = safe_next(next.as_deref()).to_string();
    let failed = |status, message: &str| show_form(status, &next, &user, Some(message));
    match web.auth.login(&user, &password, peer).await {
        Ok(token) => {
            let mut r = Redirect::to(&next).into_response();
            if let Some(token) = token {
                let cookie = session::cookie(Some(&token), web.auth.ttl().as_secs(), site.secure());
                if let Ok(v) = HeaderValue::from_str(&cookie) {
                    r.headers_mut().insert(header::SET_COOKIE, v);
                }
            }
            r
        }
        Err(AuthError::TooManyAttempts(secs)) => {
            with_retry_after(failed(StatusCode::TOO_MANY_REQUESTS, &format!("Trop de tentatives : réessayez dans {secs} s.")), secs)
        }
        Err(AuthError::Hasher(_)) => with_retry_after(failed(StatusCode::SERVICE_UNAVAILABLE, "Serveur occupé : réessayez dans un instant."), 1),
        Err(_) => failed(StatusCode::UNAUTHORIZED, "Utilisateur ou mot de passe incorrect."),
    }
}

/// `POST /logout`: the session's token stops working everywhere (HTTP and Flight SQL), the cookie is cleared.
pub async fn logout(State(web): State<Arc<Web>>, Extension(site): Extension<Arc<Site>>, headers: HeaderMap) -> Response {
    for token in session::tokens(&headers).unwrap_or_default() {
        web.auth.logout(&token);
    }
    let mut r = Redirect::to(session::LOGIN_PATH).into_response();
    if let Ok(v) = HeaderValue::from_str(&session::cookie(None, 0, site.secure())) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_server() {
        assert_eq!(safe_next(Some("/executive?Annee=2024")), "/executive?Annee=2024");
        for bad in ["//evil.example", "/\\evil.example", "https://evil.example", "", "/a b", "javascript:x"] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
