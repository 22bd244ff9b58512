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
/// Largest page size; larger requests are clamped to it (and the `Link` header says so).
pub const MAX_PER_PAGE: u32 = 300;

/// Pages past this one are all past the end: a larger `page` is read as this one.
const LAST_PAGE_READ: u32 = u32::MAX / 2;

/// `page` and `per_page` as they arrive, before validation.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page number, from 1. A page past the end is an empty list.
    #[param(schema_with = positive_integer)]
    pub page: Option<String>,
    /// Items per page: 30 by default; any larger value than 300 is used as 300, and the `Link`
    /// header's URLs carry the `per_page` actually used.
    #[param(schema_with = positive_integer)]
    pub per_page: Option<String>,
}

/// `page` and `per_page` in the document: any integer from 1, without an upper bound or a
/// `format` (an `int32` format would promise a refusal above 2^31 that the handler does not
/// make: large values are clamped, not refused).
fn positive_integer() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Integer)
        .minimum(Some(1))
        .build()
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

/// Decimal digits only, as the document's `integer` allows (no sign, no blanks, no empty
/// string); any number of them, since every integer from 1 is documented as accepted.
fn parse_positive(name: &str, value: Option<&str>, default: u32) -> Result<u32, ApiError> {
    let Some(text) = value else {
        return Ok(default);
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid_param(name, "must be a positive integer"));
    }
    let digits = text.trim_start_matches('0');
    if digits.is_empty() {
        return Err(ApiError::invalid_param(name, "must be 1 or more"));
    }
    // Too many digits for a u32 is past any end as well.
    Ok(digits
        .parse::<u32>()
        .unwrap_or(LAST_PAGE_READ)
        .min(LAST_PAGE_READ))
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

    /// The URL of page `n`: every original parameter kept in order, `page` replaced, and
    /// `per_page` (when given) replaced by the size used, so a clamped size shows.
    fn page_url(&self, n: u32) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        let per_page = self.request.per_page.to_string();
        for (key, value) in form_urlencoded::parse(self.uri.query().unwrap_or_default().as_bytes())
        {
            match &*key {
                "page" => {}
                "per_page" => {
                    query.append_pair(&key, &per_page);
                }
                _ => {
                    query.append_pair(&key, &value);
                }
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
        assert_eq!(
            q("99999999999999999999999", "2147483648").unwrap(),
            PageRequest {
                page: LAST_PAGE_READ,
                per_page: 300
            }
        );
        assert_eq!(q("007", "030").unwrap().page, 7);
        for (page, per_page) in [("0", "5"), ("x", "5"), ("1", "-1"), ("", "5"), ("1", "")] {
            assert!(q(page, per_page).is_err(), "{page:?} {per_page:?}");
        }
        for bad in [" 1", "+1", "1.0", "000"] {
            assert!(q("1", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn link_header_shows_the_per_page_used() {
        let response = PageResponse {
            body: Ok(b"[]".to_vec()),
            total: 700,
            request: PageRequest {
                page: 1,
                per_page: 300,
            },
            base: "http://h".into(),
            uri: "/v1/links?per_page=5000&x=1".parse().unwrap(),
        }
        .into_response();
        let link = response.headers()[header::LINK].to_str().unwrap();
        assert!(
            link.contains("<http://h/v1/links?per_page=300&x=1&page=2>; rel=\"next\""),
            "{link}"
        );
        assert!(!link.contains("5000"), "{link}");
    }
}
