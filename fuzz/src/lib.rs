//! Invariants shared by the fuzz targets: every span a loaded configuration
//! or a diagnostic carries lies inside the source it names, and rendering a
//! diagnostic never panics.

use wick::config::source::{SourceMap, Span};
use wick::config::value::Value;
use wick::config::{Config, Diagnostic};

/// Panics unless `span` names an existing source and lies within it.
pub fn assert_span(sources: &SourceMap, span: Span, what: &dyn std::fmt::Display) {
    assert!(
        (span.file.0 as usize) < sources.len(),
        "{what}: span {span:?} names source {} of {}",
        span.file.0,
        sources.len()
    );
    let len = sources.get(span.file).text.len();
    assert!(
        span.start <= span.end && span.end as usize <= len,
        "{what}: span {span:?} outside its source ({len} bytes)"
    );
}

/// Checks the diagnostic's span and renders it, plain and coloured.
pub fn check_diagnostic(sources: &SourceMap, d: &Diagnostic) {
    if let Some(span) = d.span {
        assert_span(sources, span, &format_args!("diagnostic {:?}", d.message));
    }
    let plain = d.render(sources, false);
    assert!(!plain.is_empty(), "empty rendering of {:?}", d.message);
    let _ = d.render(sources, true);
}

/// Checks every span recorded in the loaded tree: sources' include sites,
/// conditions, entries (recursively through nested lists).
pub fn check_config(cfg: &Config) {
    for i in 0..cfg.sources.len() {
        let file = cfg.sources.get(wick::config::source::FileId(i as u32));
        if let Some(span) = file.included_from {
            assert_span(
                &cfg.sources,
                span,
                &format_args!("include site of source {i}"),
            );
        }
    }
    for (id, block) in cfg.blocks.iter().enumerate() {
        if let Some(c) = &block.cond {
            assert_span(&cfg.sources, c.span, &format_args!("block {id} condition"));
            assert_span(
                &cfg.sources,
                c.value_span,
                &format_args!("block {id} value"),
            );
        }
        for e in block.entries.entries() {
            check_entry(&cfg.sources, e);
        }
    }
}

fn check_entry(sources: &SourceMap, e: &wick::config::value::Entry) {
    assert_span(sources, e.span, &format_args!("entry {:?}", e.key));
    assert_span(
        sources,
        e.key_span,
        &format_args!("key of entry {:?}", e.key),
    );
    if let Value::Array(a) = &e.value {
        for inner in a.entries() {
            check_entry(sources, inner);
        }
    }
}
