//! A tower layer that turns a panic in a request handler into an error response for that request alone, on both
//! servers (Flight SQL, HTTP). Query work already runs under [`crate::engine::runtime`], which catches its panics; this covers everything else a server
//! does per request (metadata, handshakes, page rendering). Without it a panic tears down the connection's task,
//! and every other call multiplexed on that HTTP/2 connection fails with it.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::Response;
use futures::FutureExt;

/// The response sent in place of a panicked handler's.
pub type Fallback<B> = fn() -> Response<B>;

pub struct CatchPanicLayer<B> {
    fallback: Fallback<B>,
}

// By hand: a derive would ask the body type to be Clone, which response bodies are not.
impl<B> Clone for CatchPanicLayer<B> {
    fn clone(&self) -> Self {
        CatchPanicLayer { fallback: self.fallback }
    }
}

impl<B> CatchPanicLayer<B> {
    pub fn new(fallback: Fallback<B>) -> Self {
        CatchPanicLayer { fallback }
    }
}

impl<S, B> tower::Layer<S> for CatchPanicLayer<B> {
    type Service = CatchPanic<S, B>;
    fn layer(&self, inner: S) -> Self::Service {
        CatchPanic { inner, fallback: self.fallback }
    }
}

pub struct CatchPanic<S, B> {
    inner: S,
    fallback: Fallback<B>,
}

impl<S: Clone, B> Clone for CatchPanic<S, B> {
    fn clone(&self) -> Self {
        CatchPanic { inner: self.inner.clone(), fallback: self.fallback }
    }
}

impl<S, Req, B> tower::Service<Req> for CatchPanic<S, B>
where
    S: tower::Service<Req, Response = Response<B>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<B>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<B>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let fallback = self.fallback;
        // Building the future can panic too (a handler's synchronous part).
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(request))) {
            Ok(future) => Box::pin(async move {
                match AssertUnwindSafe(future).catch_unwind().await {
                    Ok(result) => result,
                    Err(_) => Ok(fallback()),
                }
            }),
            Err(_) => Box::pin(async move { Ok(fallback()) }),
        }
    }
}

/// HTTP's answer: 500 with a JSON error, like the API's other errors.
pub fn http_internal() -> Response<axum::body::Body> {
    let body = r#"{"error":"internal error: this request failed unexpectedly; the server goes on"}"#;
    let mut response = Response::new(axum::body::Body::from(body));
    *response.status_mut() = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/json"));
    response
}

/// gRPC's answer: status INTERNAL in the headers (a trailers-only response).
pub fn grpc_internal<B: Default>() -> Response<B> {
    tonic::Status::internal("internal error: this call failed unexpectedly; the server goes on").into_http()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{Layer, Service, ServiceExt};

    #[tokio::test]
    async fn a_panicking_handler_answers_the_fallback() {
        let handler = tower::service_fn(|n: u32| async move {
            if n == 0 {
                panic!("boom");
            }
            Ok::<_, std::convert::Infallible>(Response::new(format!("ok {n}")))
        });
        let mut svc = CatchPanicLayer::new(|| Response::builder().status(500).body(String::from("failed")).unwrap_or_default()).layer(handler);
        let r = svc.ready().await.expect("ready").call(0).await.expect("an answer");
        assert_eq!((r.status().as_u16(), r.body().as_str()), (500, "failed"));
        let r = svc.ready().await.expect("ready").call(7).await.expect("an answer");
        assert_eq!(r.body(), "ok 7");
        let r: Response<String> = grpc_internal();
        assert_eq!(r.headers().get("grpc-status").map(|v| v.as_bytes()), Some(&b"13"[..]));
    }
}
