//! chaos bindings (see the owning issue).
