//! Finding a connector by institution id.
//!
//! The built-in sandbox banks are registered at start; banks served by out-of-process
//! connectors are registered when their connector's manifest is read, which may be after the
//! server started (a connector that was down at start is retried in the background). Until
//! then the registry counts that connector as pending, and a refresh of an institution it does
//! not know yet is a retryable failure rather than an unknown bank.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use crate::connectors::sandbox::{self, SandboxConfig};
use crate::connectors::{Connector, Institution};

/// Where an institution's connector runs (`source` in `GET /v1/institutions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A built-in sandbox bank.
    Sandbox,
    /// An out-of-process connector speaking the connector protocol.
    Connector,
}

impl Source {
    /// The wire name: `sandbox` or `connector`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Sandbox => "sandbox",
            Source::Connector => "connector",
        }
    }
}

#[derive(Clone)]
struct Entry {
    connector: Arc<dyn Connector>,
    source: Source,
}

/// Two connectors claimed the same institution id.
#[derive(Debug, thiserror::Error)]
#[error("institution {0} is served by two connectors; each institution id must be served by one")]
pub struct DuplicateInstitution(pub String);

/// The connectors a server can use, by institution id. Cheap to clone: clones share the same
/// connectors, so one registering a late connector is seen by all.
#[derive(Clone, Default)]
pub struct Registry {
    // Ordered so `list` is stable without sorting on every call.
    connectors: Arc<RwLock<BTreeMap<String, Entry>>>,
    pending: Arc<AtomicUsize>,
    /// Whether the sandbox banks are offered to live mode too (`sandbox_in_live`).
    sandbox_in_live: bool,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry with both sandbox institutions, `cl_banco_sandbox` and `mx_banco_sandbox`.
    pub fn sandbox(config: SandboxConfig) -> Self {
        let registry = Self::new();
        for connector in [
            Arc::new(sandbox::chile(config.clone())) as Arc<dyn Connector>,
            Arc::new(sandbox::mexico(config)),
        ] {
            registry
                .register(connector, Source::Sandbox)
                .expect("the two sandbox banks have distinct ids");
        }
        registry
    }

    /// This registry, offering its sandbox banks to live mode too when `yes`. By default a
    /// live key, a live widget and a live link never see them: a real person choosing a bank
    /// must not be offered a fake one.
    pub fn with_sandbox_in_live(mut self, yes: bool) -> Self {
        self.sandbox_in_live = yes;
        self
    }

    /// Whether a bank of `source` is offered in live mode (`live`) or test mode.
    fn offered(&self, source: Source, live: bool) -> bool {
        !(live && source == Source::Sandbox && !self.sandbox_in_live)
    }

    /// Adds connectors, all or none: an id already served (or served twice among them) is
    /// refused.
    pub fn register_all(
        &self,
        connectors: Vec<Arc<dyn Connector>>,
        source: Source,
    ) -> Result<(), DuplicateInstitution> {
        let mut map = self
            .connectors
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let mut seen = std::collections::BTreeSet::new();
        for connector in &connectors {
            let id = connector.institution().id.to_string();
            if map.contains_key(&id) || !seen.insert(id.clone()) {
                return Err(DuplicateInstitution(id));
            }
        }
        for connector in connectors {
            let id = connector.institution().id.to_string();
            map.insert(id, Entry { connector, source });
        }
        Ok(())
    }

    /// Adds one connector under its institution's id.
    pub fn register(
        &self,
        connector: Arc<dyn Connector>,
        source: Source,
    ) -> Result<(), DuplicateInstitution> {
        self.register_all(vec![connector], source)
    }

    /// The connector for `institution_id`.
    pub fn get(&self, institution_id: &str) -> Option<Arc<dyn Connector>> {
        let map = self
            .connectors
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        map.get(institution_id).map(|e| e.connector.clone())
    }

    /// The connector for `institution_id`, if it is offered in live mode (`live`) or test mode.
    pub fn get_offered(&self, institution_id: &str, live: bool) -> Option<Arc<dyn Connector>> {
        let map = self
            .connectors
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        map.get(institution_id)
            .filter(|e| self.offered(e.source, live))
            .map(|e| e.connector.clone())
    }

    /// The institutions offered in live mode (`live`) or test mode, with where each is
    /// served, ordered by id.
    pub fn list_offered(&self, live: bool) -> Vec<(Institution, Source)> {
        self.list_with_source()
            .into_iter()
            .filter(|(_, source)| self.offered(*source, live))
            .collect()
    }

    /// Every institution with where it is served, ordered by id.
    pub fn list_with_source(&self) -> Vec<(Institution, Source)> {
        let map = self
            .connectors
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        map.values()
            .map(|e| (e.connector.institution().clone(), e.source))
            .collect()
    }

    /// Every institution, ordered by id.
    pub fn list(&self) -> Vec<Institution> {
        self.list_with_source()
            .into_iter()
            .map(|(i, _)| i)
            .collect()
    }

    /// Institutions offered in live mode (`live`) or test mode whose name or id contains
    /// `query` (ignoring case and Spanish accents), optionally only those of `country`; an
    /// empty query matches all. For the widget's picker.
    pub fn search(&self, query: &str, country: Option<&str>, live: bool) -> Vec<Institution> {
        let needle = fold(query.trim());
        self.list_offered(live)
            .into_iter()
            .map(|(i, _)| i)
            .filter(|i| country.is_none_or(|c| i.country.eq_ignore_ascii_case(c)))
            .filter(|i| fold(&i.name).contains(&needle) || fold(&i.id).contains(&needle))
            .collect()
    }

    /// Counts a configured connector whose manifest is not read yet.
    pub fn add_pending(&self) {
        self.pending.fetch_add(1, Ordering::SeqCst);
    }

    /// A pending connector's manifest was read (or it was given up).
    pub fn remove_pending(&self) {
        self.pending.fetch_sub(1, Ordering::SeqCst);
    }

    /// Whether some configured connector is not loaded yet: an institution unknown now may
    /// be one of its banks.
    pub fn has_pending(&self) -> bool {
        self.pending.load(Ordering::SeqCst) > 0
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let map = self
            .connectors
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        f.debug_list().entries(map.keys()).finish()
    }
}

/// Lower case without the accents Spanish names carry, so "mexico" finds "México".
fn fold(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'á' | 'à' | 'ä' => 'a',
            'é' | 'è' | 'ë' => 'e',
            'í' | 'ì' | 'ï' => 'i',
            'ó' | 'ò' | 'ö' => 'o',
            'ú' | 'ù' | 'ü' => 'u',
            'ñ' => 'n',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_registry_has_both_banks() {
        let registry = Registry::sandbox(SandboxConfig::default());
        let ids: Vec<_> = registry.list().iter().map(|i| i.id.to_string()).collect();
        assert_eq!(ids, ["cl_banco_sandbox", "mx_banco_sandbox"]);
        let mx = registry.get("mx_banco_sandbox").unwrap();
        assert_eq!(mx.institution().currency, "MXN");
        assert!(registry.get("cl_banco_de_chile").is_none());
    }

    #[test]
    fn search_ignores_case_and_accents() {
        let registry = Registry::sandbox(SandboxConfig::default());
        let found = registry.search("MEXICO", None, false);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "Banco Sandbox México");
        assert_eq!(
            registry.search("sandbox", Some("cl"), false)[0].id,
            "cl_banco_sandbox"
        );
        assert_eq!(registry.search("", None, false).len(), 2);
        assert!(registry.search("santander", None, false).is_empty());
    }

    #[test]
    fn live_mode_is_offered_the_sandbox_banks_only_when_configured() {
        let registry = Registry::sandbox(SandboxConfig::default());
        assert!(registry.search("", None, true).is_empty());
        assert!(registry.list_offered(true).is_empty());
        assert!(registry.get_offered("cl_banco_sandbox", true).is_none());
        assert!(registry.get_offered("cl_banco_sandbox", false).is_some());
        let staging = registry.with_sandbox_in_live(true);
        assert_eq!(staging.search("", None, true).len(), 2);
        assert!(staging.get_offered("mx_banco_sandbox", true).is_some());
    }
}
