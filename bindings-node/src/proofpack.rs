//! proofpack bindings (see the owning issue).
