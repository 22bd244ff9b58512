//! Offset pagination as Fintoc's v1 does it: `page` (from 1) and `per_page` (30 by default,
//! 300 at most), a bare JSON array body, an RFC 8288 `Link` header with absolute URLs that
//! repeat every original query parameter, and `X-Total-Count`.

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use url::form_urlencoded;

use crate::config::Config;
use crate::error::ApiError;
use crate::store::{PageRequest, Paged};

/// Default page size.
pub const DEFAULT_PER_PAGE: u32 = 30;
/// Largest page size; larger requests are clamped to it.
pub const MAX_PER_PAGE: u32 = 300;

/// `page` and `per_page` as they arrive, before validation.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page number, from 1.
    #[param(value_type = Option<u32>, minimum = 1)]
    pub page: Option<String>,
    /// Items per page (default 30, at most 300; larger values are treated as 300).
    #[param(value_type = Option<u32>, minimum = 1)]
    pub per_page: Option<String>,
}

impl PageQuery {
    /// Validates into a [`PageRequest`].
    pub fn validate(&self) -> Result<PageRequest, ApiError> {
        let page = parse_positive("page", self.page.as_deref(), 1)?;
        let per_page = parse_positive("per_page", self.per_page.as_deref(), DEFAULT_PER_PAGE)?
            .min(MAX_PER_PAGE);
        Ok(PageRequest { page, per_page })
    }
}

fn parse_positive(name: &str, value: Option<&str>, default: u32) -> Result<u32, ApiError> {
    match value {
        None => Ok(default),
        Some(text) => match text.trim().parse::<u64>() {
            Ok(0) => Err(ApiError::invalid_param(name, "must be 1 or more")),
            // Absurdly large numbers are just "past the end".
            Ok(n) => Ok(u32::try_from(n).unwrap_or(u32::MAX / 2).min(u32::MAX / 2)),
            Err(_) => Err(ApiError::invalid_param(name, "must be a positive integer")),
        },
    }
}

/// Where absolute URLs in `Link` headers point: the configured public URL, or the `Host`
/// the client used.
pub fn base_url(public_url: Option<&str>, headers: &HeaderMap) -> String {
    if let Some(url) = public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// One page of a list, ready to answer. The items are serialised when the page is made, so
/// their wire forms may borrow from the stored items (see [`PageResponse::new`]).
pub struct PageResponse {
    /// The page's items as a JSON array, or why they could not be serialised.
    body: Result<Vec<u8>, ApiError>,
    /// Total across pages.
    pub total: u64,
    /// What was asked.
    pub request: PageRequest,
    /// `scheme://host[:port]` for the links.
    pub base: String,
    /// The request URI (path and the original query).
    pub uri: Uri,
}

impl IntoResponse for PageResponse {
    fn into_response(mut self) -> Response {
        let body = match std::mem::replace(&mut self.body, Ok(Vec::new())) {
            Ok(body) => body,
            Err(e) => return e.into_response(),
        };
        let last = last_page(self.total, self.request.per_page);
        let page = self.request.page;
        let mut rels = vec![("first", 1)];
        if page > 1 {
            rels.push(("prev", (page - 1).min(last)));
        }
        if page < last {
            rels.push(("next", page + 1));
        }
        rels.push(("last", last));
        let link = rels
            .into_iter()
            .map(|(rel, n)| format!("<{}>; rel=\"{rel}\"", self.page_url(n)))
            .collect::<Vec<_>>()
            .join(", ");
        let mut response = (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response();
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&link) {
            headers.insert(header::LINK, value);
        }
        headers.insert(
            HeaderName::from_static("x-total-count"),
            HeaderValue::from(self.total),
        );
        response
    }
}

impl PageResponse {
    /// The answer for `page` of a list, each stored item turned into its wire form by
    /// `to_wire`; links point at the configured public URL or the client's `Host`.
    pub fn new<'a, S, T: Serialize>(
        page: &'a Paged<S>,
        to_wire: impl FnMut(&'a S) -> T,
        request: PageRequest,
        config: &Config,
        headers: &HeaderMap,
        uri: Uri,
    ) -> Self {
        let items: Vec<T> = page.items.iter().map(to_wire).collect();
        Self {
            body: serde_json::to_vec(&items).map_err(|e| ApiError::Internal(e.into())),
            total: page.total,
            request,
            base: base_url(config.public_url.as_deref(), headers),
            uri,
        }
    }

    /// The URL of page `n`: every original parameter kept in order, `page` replaced.
    fn page_url(&self, n: u32) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (key, value) in form_urlencoded::parse(self.uri.query().unwrap_or_default().as_bytes())
        {
            if key != "page" {
                query.append_pair(&key, &value);
            }
        }
        query.append_pair("page", &n.to_string());
        format!("{}{}?{}", self.base, self.uri.path(), query.finish())
    }
}

fn last_page(total: u64, per_page: u32) -> u32 {
    let pages = total.div_ceil(u64::from(per_page.max(1))).max(1);
    u32::try_from(pages).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links_for(total: u64, page: u32, uri: &str) -> String {
        let response = PageResponse {
            body: Ok(b"[]".to_vec()),
            total,
            request: PageRequest { page, per_page: 30 },
            base: "http://127.0.0.1:9".into(),
            uri: uri.parse().unwrap(),
        }
        .into_response();
        response.headers()[header::LINK]
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn link_header_repeats_params_and_replaces_page() {
        let link = links_for(
            95,
            2,
            "/v1/accounts/acc_1/movements?link_token=link_a_token_b&since=2024-01-01&page=2",
        );
        assert_eq!(
            link,
            "<http://127.0.0.1:9/v1/accounts/acc_1/movements?link_token=link_a_token_b&since=2024-01-01&page=1>; rel=\"first\", \
             <http://127.0.0.1:9/v1/accounts/acc_1/movements?link_token=link_a_token_b&since=2024-01-01&page=1>; rel=\"prev\", \
             <http://127.0.0.1:9/v1/accounts/acc_1/movements?link_token=link_a_token_b&since=2024-01-01&page=3>; rel=\"next\", \
             <http://127.0.0.1:9/v1/accounts/acc_1/movements?link_token=link_a_token_b&since=2024-01-01&page=4>; rel=\"last\""
        );
    }

    #[test]
    fn last_page_has_no_next_and_commas_are_encoded() {
        let link = links_for(30, 1, "/v1/links?x=a,b");
        assert!(!link.contains("rel=\"next\""));
        assert!(link.contains("x=a%2Cb"));
        assert_eq!(last_page(0, 30), 1);
        assert_eq!(last_page(61, 30), 3);
    }

    #[test]
    fn page_parameters_are_validated() {
        let q = |page: &str, per: &str| {
            PageQuery {
                page: Some(page.into()),
                per_page: Some(per.into()),
            }
            .validate()
        };
        assert_eq!(
            q("2", "1000").unwrap(),
            PageRequest {
                page: 2,
                per_page: 300
            }
        );
        assert!(q("0", "5").is_err());
        assert!(q("x", "5").is_err());
        assert!(q("1", "-1").is_err());
    }
}
