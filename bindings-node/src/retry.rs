//! retry bindings (see the owning issue).
