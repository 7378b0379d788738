//! The stage laws (`millstone_testkit::laws`) over every registered stage, with its EXAMPLE
//! configuration (and `on_match: annotate` where supported) on arbitrary documents. A stage
//! added to the registry is covered here without a new test.

use millstone_core::schemars;
use millstone_core::{
    BuildContext, BuildError, Document, DropReason, Emit, OnMatch, Registry, Stage, StageConfig, StageKind,
};
use millstone_testkit::laws;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn every_registered_stage_obeys_the_laws(docs in millstone_testkit::law_documents(14)) {
        let registry = millstone::builtin_registry();
        for info in registry.iter() {
            if let Err(broken) = laws::check_stage(&registry, info, &docs) {
                prop_assert!(false, "{broken}");
            }
        }
    }

    #[test]
    fn language_id_with_a_fasttext_model_obeys_the_laws(docs in millstone_testkit::law_documents(14)) {
        let Some(model) = laws::lid176() else { return Ok(()) };
        let registry = millstone::builtin_registry();
        let info = registry.get("clean.language").unwrap();
        let fields = serde_json::json!({
            "model": "fasttext", "model_path": model, "keep": ["en", "de"], "min_score": 0.3, "per_paragraph": true
        });
        if let Err(broken) = laws::check_processing_stage(info, &fields, &docs) {
            prop_assert!(false, "{broken}");
        }
    }
}

/// A deliberately broken stage, one way per `kind`, to show that each law can fail.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
struct BrokenConfig {
    kind: String,
}

struct Broken(String);

impl millstone_core::Transform for Broken {
    fn apply(&self, mut doc: Document, out: &mut Emit) -> Result<(), millstone_core::StageError> {
        match self.0.as_str() {
            "panic" => panic!("boom"),
            "undocumented_reason" => out.drop(doc, DropReason("secret")),
            "bad_span" => {
                doc.spans.push(millstone_core::Span::new(0, doc.text.len() + 1, "x"));
                out.keep(doc);
            }
            "loses_documents" => {}
            "drops_when_annotating" => out.drop(doc, DropReason("documented")),
            "rewrites_when_annotating" => {
                doc.set_text(format!("{} changed", doc.text));
                out.keep(doc);
            }
            _ => out.keep(doc),
        }
        Ok(())
    }
}

impl StageConfig for BrokenConfig {
    const TYPE: &'static str = "test.broken";
    const KIND: StageKind = StageKind::Transform;
    const SUMMARY: &'static str = "breaks a law";
    const EXAMPLE: &'static str = "type: test.broken\nkind: none\n";
    const DROP_REASONS: &'static [(&'static str, &'static str)] = &[("documented", "")];
    const ON_MATCH: &'static [OnMatch] = &[OnMatch::Annotate];
    fn build(&self, _: &BuildContext) -> Result<Stage, BuildError> {
        Ok(Stage::transform(Broken(self.kind.clone())))
    }
}

#[test]
fn each_law_fails_on_a_stage_that_breaks_it() {
    let mut registry = Registry::new();
    registry.register::<BrokenConfig>();
    let info = registry.get("test.broken").unwrap();
    let docs = vec![Document::new("d0", "some text"), Document::new("d1", "more")];
    let check = |kind: &str, on_match: Option<&str>| {
        let mut fields = serde_json::json!({ "kind": kind });
        if let Some(v) = on_match {
            fields["on_match"] = v.into();
        }
        laws::check_processing_stage(info, &fields, &docs)
    };
    assert!(check("none", None).is_ok());
    assert!(check("rewrites_when_annotating", None).is_ok(), "rewriting is fine outside annotate");
    for (kind, law) in [
        ("panic", "never panics"),
        ("undocumented_reason", "drop reasons are documented"),
        ("bad_span", "spans are valid"),
        ("loses_documents", "in == kept + dropped + failed"),
    ] {
        let broken = check(kind, None).unwrap_err();
        assert!(broken.contains(law), "{kind}: {broken}");
    }
    let broken = check("rewrites_when_annotating", Some("annotate")).unwrap_err();
    assert!(broken.contains("annotate never changes the text"), "{broken}");
    assert!(check("drops_when_annotating", None).is_ok(), "dropping is fine outside annotate");
    let broken = check("drops_when_annotating", Some("annotate")).unwrap_err();
    assert!(broken.contains("annotate never drops"), "{broken}");
}
