//! cache bindings (see the owning issue).
