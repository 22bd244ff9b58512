//! Finding a connector by institution id.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::connectors::sandbox::{self, SandboxConfig};
use crate::connectors::{Connector, Institution};

/// The connectors a server can use, by institution id. Cheap to clone (connectors are shared).
#[derive(Clone, Default)]
pub struct Registry {
    // Ordered so `list` is stable without sorting on every call.
    connectors: BTreeMap<&'static str, Arc<dyn Connector>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry with both sandbox institutions, `cl_banco_sandbox` and `mx_banco_sandbox`.
    pub fn sandbox(config: SandboxConfig) -> Self {
        let mut registry = Self::new();
        registry.register(Arc::new(sandbox::chile(config.clone())));
        registry.register(Arc::new(sandbox::mexico(config)));
        registry
    }

    /// Adds a connector under its institution's id, returning the one it replaces, if any.
    pub fn register(&mut self, connector: Arc<dyn Connector>) -> Option<Arc<dyn Connector>> {
        let id = static_id(connector.as_ref());
        self.connectors.insert(id, connector)
    }

    /// The connector for `institution_id`.
    pub fn get(&self, institution_id: &str) -> Option<Arc<dyn Connector>> {
        self.connectors.get(institution_id).cloned()
    }

    /// Every institution, ordered by id.
    pub fn list(&self) -> Vec<Institution> {
        self.connectors.values().map(|c| *c.institution()).collect()
    }

    /// Institutions whose name or id contains `query` (ignoring case and Spanish accents),
    /// optionally only those of `country`; an empty query matches all. For the widget's picker.
    pub fn search(&self, query: &str, country: Option<&str>) -> Vec<Institution> {
        let needle = fold(query.trim());
        self.list()
            .into_iter()
            .filter(|i| country.is_none_or(|c| i.country.eq_ignore_ascii_case(c)))
            .filter(|i| fold(i.name).contains(&needle) || fold(i.id).contains(&needle))
            .collect()
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.connectors.keys()).finish()
    }
}

// `Institution::id` is `&'static str`, but `institution()` borrows from the connector; copying the
// struct out recovers the `'static` id for the map key.
fn static_id(connector: &dyn Connector) -> &'static str {
    let institution: Institution = *connector.institution();
    institution.id
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
        let ids: Vec<_> = registry.list().iter().map(|i| i.id).collect();
        assert_eq!(ids, ["cl_banco_sandbox", "mx_banco_sandbox"]);
        let mx = registry.get("mx_banco_sandbox").unwrap();
        assert_eq!(mx.institution().currency, "MXN");
        assert!(registry.get("cl_banco_de_chile").is_none());
    }

    #[test]
    fn search_ignores_case_and_accents() {
        let registry = Registry::sandbox(SandboxConfig::default());
        let found = registry.search("MEXICO", None);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "Banco Sandbox México");
        assert_eq!(
            registry.search("sandbox", Some("cl"))[0].id,
            "cl_banco_sandbox"
        );
        assert_eq!(registry.search("", None).len(), 2);
        assert!(registry.search("santander", None).is_empty());
    }
}
