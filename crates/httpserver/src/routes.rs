//! Handler registration by path: exact or prefix, first match wins.

use std::sync::{Arc, RwLock};

use crate::Handler;

struct Route {
    prefix: String,
    exact: bool,
    handler: Arc<dyn Handler>,
}

/// The table of mounted handlers, in registration order.
///
/// Handlers may be registered and unregistered while the server runs (the
/// node unregisters JSON-RPC during shutdown, as Core does); a request sees
/// the table as it was when the request arrived.
#[derive(Default)]
pub struct Routes {
    table: RwLock<Vec<Route>>,
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let table = self.table.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        f.debug_list().entries(table.iter().map(|r| (&r.prefix, r.exact))).finish()
    }
}

impl Routes {
    /// Appends a handler. An exact handler matches only a request target that
    /// equals `prefix` (query included); a prefix handler matches every target
    /// that starts with it and receives the rest as the sub-path.
    pub fn register(&self, prefix: impl Into<String>, exact: bool, handler: Arc<dyn Handler>) {
        let prefix = prefix.into();
        tracing::debug!(target: "http", "Registering HTTP handler for {prefix} (exactmatch {})", u8::from(exact));
        self.write().push(Route { prefix, exact, handler });
    }

    /// Removes the first handler registered with the same prefix and
    /// exactness. Returns whether one was removed.
    pub fn unregister(&self, prefix: &str, exact: bool) -> bool {
        let mut table = self.write();
        let Some(pos) = table.iter().position(|r| r.prefix == prefix && r.exact == exact) else {
            return false;
        };
        tracing::debug!(target: "http", "Unregistering HTTP handler for {prefix} (exactmatch {})", u8::from(exact));
        table.remove(pos);
        true
    }

    /// The handler for `target` and the sub-path it receives.
    pub(crate) fn lookup(&self, target: &str) -> Option<(Arc<dyn Handler>, String)> {
        let table = self.table.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        table.iter().find_map(|r| {
            let hit = if r.exact { target == r.prefix } else { target.starts_with(&r.prefix) };
            hit.then(|| (Arc::clone(&r.handler), target[r.prefix.len()..].to_owned()))
        })
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Route>> {
        // A panic while holding the lock cannot leave the Vec half-modified
        // (push and remove are atomic from our point of view), so poisoning is
        // safe to ignore.
        self.table.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BoxFuture, Request, Response};

    struct Named;
    impl Handler for Named {
        fn handle(&self, _req: Request) -> BoxFuture<Response> {
            Box::pin(async { Response::empty(hyper::StatusCode::OK) })
        }
    }

    #[test]
    fn exact_prefix_and_order() {
        let routes = Routes::default();
        routes.register("/", true, Arc::new(Named));
        routes.register("/rest/", false, Arc::new(Named));
        routes.register("/rest/tx/", false, Arc::new(Named));
        assert_eq!(routes.lookup("/").map(|(_, s)| s), Some(String::new()));
        assert!(routes.lookup("/?x").is_none());
        assert!(routes.lookup("/foo").is_none());
        // first match wins: /rest/ was registered before /rest/tx/
        assert_eq!(routes.lookup("/rest/tx/ab.json?q").map(|(_, s)| s), Some("tx/ab.json?q".into()));
        assert!(routes.unregister("/rest/", false));
        assert_eq!(routes.lookup("/rest/tx/ab").map(|(_, s)| s), Some("ab".into()));
        assert!(!routes.unregister("/rest/", false));
        assert!(!routes.unregister("/", false));
    }
}
