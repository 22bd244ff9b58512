//! The HTTP client that delivers webhooks, guarded against SSRF: a receiver URL must not make
//! Refresco call into its own network. Addresses are checked **after DNS resolution** (a name
//! that resolves to 127.0.0.1 is as dangerous as the literal), for literal IP hosts too, and
//! redirects are never followed (a public URL could redirect inward).
//!
//! The rule (see `docs/webhooks.md`): loopback, private, link-local, shared (CGNAT),
//! unspecified, broadcast, multicast and IPv6 unique-local addresses are refused, unless
//! `webhook_allow_private` is set, or the endpoint is in **test mode** and
//! `webhook_allow_private_in_test` is set (the default), so a developer's receiver on
//! localhost works out of the box while live endpoints stay guarded.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether `ip` is an address a webhook may not reach when the guard is on.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link local
        }
    }
}

/// Resolves names and drops internal addresses; fails when nothing is left.
struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|a| !is_internal(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(format!("{host} resolves only to internal addresses (blocked)").into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// Two clients: one that may reach internal addresses and one that may not.
#[derive(Clone)]
pub struct WebhookClients {
    open: reqwest::Client,
    guarded: reqwest::Client,
}

impl WebhookClients {
    /// Clients with a per-attempt `timeout`.
    pub fn new(timeout: Duration) -> anyhow::Result<Self> {
        let builder = || {
            reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .user_agent(concat!("Refresco-Webhooks/", env!("CARGO_PKG_VERSION")))
        };
        Ok(Self {
            open: builder().build()?,
            guarded: builder().dns_resolver(Arc::new(GuardedResolver)).build()?,
        })
    }

    /// The client for a delivery, or why the URL may not be called at all.
    pub fn for_url(&self, url: &str, allow_internal: bool) -> Result<&reqwest::Client, String> {
        if allow_internal {
            return Ok(&self.open);
        }
        // Literal IP hosts never reach the resolver: check them here.
        let parsed = url::Url::parse(url).map_err(|e| format!("bad URL: {e}"))?;
        let literal = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if literal.is_some_and(is_internal) {
            return Err("the URL points at an internal address (blocked)".to_owned());
        }
        Ok(&self.guarded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognized() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(internal.parse().unwrap()), "{internal}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "100.128.0.1"] {
            assert!(!is_internal(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn the_guard_refuses_literal_and_resolved_internal_addresses() {
        let clients = WebhookClients::new(Duration::from_secs(1)).unwrap();
        assert!(clients.for_url("http://127.0.0.1:9/x", false).is_err());
        assert!(clients.for_url("http://[::1]:9/x", false).is_err());
        assert!(clients.for_url("http://127.0.0.1:9/x", true).is_ok());
        // `localhost` passes the literal check but resolves to loopback: the resolver refuses.
        let client = clients.for_url("http://localhost:9/x", false).unwrap();
        let err = client
            .post("http://localhost:9/x")
            .send()
            .await
            .unwrap_err();
        assert!(format!("{err:?}").contains("internal addresses"), "{err:?}");
    }
}
