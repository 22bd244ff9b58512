//! A tiny OTLP/HTTP collector: `POST /v1/traces` with a protobuf
//! `ExportTraceServiceRequest`, decoded with `opentelemetry-proto`'s generated types and kept.
//! It runs on a thread and a runtime of its own: the exporter is the process's (its subscriber
//! is global), and outlives each test's runtime.

use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

type Requests = Arc<Mutex<Vec<ExportTraceServiceRequest>>>;

/// The collector every test of this binary exports to.
pub struct Collector {
    /// Its base URL (what `otlp_endpoint` takes).
    pub url: String,
    requests: Requests,
}

async fn traces(State(requests): State<Requests>, body: Bytes) -> impl IntoResponse {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return (StatusCode::BAD_REQUEST, Vec::new()).into_response();
    };
    requests.lock().unwrap().push(request);
    (
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
        .into_response()
}

impl Collector {
    /// The collector, started on first use.
    pub fn shared() -> &'static Collector {
        static COLLECTOR: OnceLock<Collector> = OnceLock::new();
        COLLECTOR.get_or_init(|| {
            let requests = Requests::default();
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let router = Router::new()
                .route("/v1/traces", post(traces))
                // A batch of 512 spans passes axum's default 2 MB.
                .layer(DefaultBodyLimit::disable())
                .with_state(requests.clone());
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    axum::serve(listener, router).await.unwrap();
                });
            });
            Collector { url, requests }
        })
    }

    /// Every request received so far, as `Debug` text (to look for secrets in).
    pub fn dump(&self) -> String {
        format!("{:?}", self.requests.lock().unwrap())
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Span> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| s.spans.clone())
            .collect()
    }

    /// The `service.name` the spans' resources carry.
    pub fn service_names(&self) -> Vec<String> {
        use opentelemetry_proto::tonic::common::v1::any_value::Value;
        self.requests
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| &r.resource_spans)
            .filter_map(|r| r.resource.as_ref())
            .flat_map(|r| &r.attributes)
            .filter(|kv| kv.key == "service.name")
            .filter_map(|kv| match kv.value.as_ref()?.value.as_ref()? {
                Value::StringValue(name) => Some(name.clone()),
                _ => None,
            })
            .collect()
    }
}
