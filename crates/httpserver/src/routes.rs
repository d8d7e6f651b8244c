//! Handler registration by path: exact or prefix, first match wins.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::Handler;

#[derive(Clone)]
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
///
/// Every change publishes a new immutable [`Table`] and bumps a generation
/// number. A connection keeps the table it last saw and takes a new one only
/// when the generation moved, so serving a request reads one shared word
/// that nobody writes, instead of taking a lock and a reference count that
/// every core would contend for.
pub struct Routes {
    table: RwLock<Arc<Table>>,
    generation: AtomicU64,
}

impl Default for Routes {
    fn default() -> Self {
        Self { table: RwLock::new(Arc::new(Table(Vec::new()))), generation: AtomicU64::new(0) }
    }
}

/// One published state of the routes.
pub(crate) struct Table(Vec<Route>);

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.iter().map(|r| (&r.prefix, r.exact))).finish()
    }
}

impl Table {
    /// The index of the handler for `target`, and where in `target` the
    /// sub-path it receives begins.
    pub(crate) fn lookup(&self, target: &str) -> Option<(usize, usize)> {
        self.0.iter().enumerate().find_map(|(index, r)| {
            let hit = if r.exact { target == r.prefix } else { target.starts_with(&r.prefix) };
            hit.then_some((index, r.prefix.len()))
        })
    }

    /// The handler at an index [`lookup`](Self::lookup) returned.
    pub(crate) fn handler(&self, index: usize) -> &dyn Handler {
        &*self.0[index].handler
    }
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.snapshot().1.fmt(f)
    }
}

impl Routes {
    /// Appends a handler. An exact handler matches only a request target that
    /// equals `prefix` (query included); a prefix handler matches every target
    /// that starts with it and receives the rest as the sub-path.
    pub fn register(&self, prefix: impl Into<String>, exact: bool, handler: Arc<dyn Handler>) {
        let prefix = prefix.into();
        tracing::debug!(target: "http", "Registering HTTP handler for {prefix} (exactmatch {})", u8::from(exact));
        self.change(|routes| {
            routes.push(Route { prefix, exact, handler });
            true
        });
    }

    /// Removes the first handler registered with the same prefix and
    /// exactness. Returns whether one was removed.
    pub fn unregister(&self, prefix: &str, exact: bool) -> bool {
        self.change(|routes| {
            let Some(pos) = routes.iter().position(|r| r.prefix == prefix && r.exact == exact) else {
                return false;
            };
            tracing::debug!(target: "http", "Unregistering HTTP handler for {prefix} (exactmatch {})", u8::from(exact));
            routes.remove(pos);
            true
        })
    }

    /// The generation of the current table.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The current table and its generation.
    pub(crate) fn snapshot(&self) -> (u64, Arc<Table>) {
        let table = self.table.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        // read under the lock, which `change` holds while it bumps it
        (self.generation.load(Ordering::Acquire), Arc::clone(&table))
    }

    /// Applies `edit` to a copy of the routes and publishes the copy if
    /// `edit` says it changed something.
    fn change(&self, edit: impl FnOnce(&mut Vec<Route>) -> bool) -> bool {
        // A panic while holding the lock leaves the published table as it
        // was (edits happen on a copy), so poisoning is safe to ignore.
        let mut table = self.table.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut routes = table.0.clone();
        if !edit(&mut routes) {
            return false;
        }
        *table = Arc::new(Table(routes));
        self.generation.fetch_add(1, Ordering::AcqRel);
        true
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

    fn lookup(routes: &Routes, target: &str) -> Option<String> {
        routes.snapshot().1.lookup(target).map(|(_, at)| target[at..].to_owned())
    }

    #[test]
    fn exact_prefix_and_order() {
        let routes = Routes::default();
        routes.register("/", true, Arc::new(Named));
        routes.register("/rest/", false, Arc::new(Named));
        routes.register("/rest/tx/", false, Arc::new(Named));
        assert_eq!(lookup(&routes, "/"), Some(String::new()));
        assert!(lookup(&routes, "/?x").is_none());
        assert!(lookup(&routes, "/foo").is_none());
        // first match wins: /rest/ was registered before /rest/tx/
        assert_eq!(lookup(&routes, "/rest/tx/ab.json?q"), Some("tx/ab.json?q".into()));
        let (before, old) = routes.snapshot();
        assert!(routes.unregister("/rest/", false));
        assert_eq!(lookup(&routes, "/rest/tx/ab"), Some("ab".into()));
        // a change publishes a new table and generation; the old one is intact
        assert!(routes.generation() > before);
        assert_eq!(old.lookup("/rest/tx/ab").map(|(_, at)| at), Some("/rest/".len()));
        let unchanged = routes.generation();
        assert!(!routes.unregister("/rest/", false));
        assert!(!routes.unregister("/", false));
        assert_eq!(routes.generation(), unchanged);
    }
}
