//! variance bindings (see the owning issue).
