//! Configuration values: strings, integers and arrays (lighttpd's
//! `data_string`, `data_integer`, `data_array` in `array.c`).
//!
//! An [`Array`] is an ordered list of entries, each with an optional key;
//! keys compare ASCII-case-insensitively. The same container holds the
//! entries of a configuration block (where every entry has a key), so the
//! order effects of lighttpd's `+=` — remove the entry, move the last one
//! into its slot, append the merged entry — are reproduced in one place.

use std::collections::HashMap;

use bstr::{BString, ByteSlice};

use super::source::Span;

/// A configuration value.
#[derive(Debug, Clone)]
pub enum Value {
    /// A byte string (no encoding is assumed).
    Str(BString),
    /// A 32-bit signed integer (wrapping arithmetic, as lighttpd's `int`).
    Int(i32),
    /// A list or key => value array.
    Array(Array),
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => a == b,
            _ => false,
        }
    }
}

impl Value {
    /// The name of the type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Int(_) => "integer",
            Value::Array(_) => "array",
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&BString> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The array, if this is one.
    pub fn as_array(&self) -> Option<&Array> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// Why `a + b` failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeError {
    /// An array on one side and a scalar on the other.
    TypeMismatch {
        /// Type of the left operand.
        left: &'static str,
        /// Type of the right operand.
        right: &'static str,
    },
    /// The same key on both sides with different values.
    DuplicateKey {
        /// The key as spelled on the right.
        key: BString,
        /// Where the right-hand entry was written.
        span: Span,
    },
}

/// `left + right` (spec §5.2): concatenation, wrapping sum, or array merge.
pub fn add(left: Value, right: Value) -> Result<Value, MergeError> {
    match (left, right) {
        (Value::Str(mut a), Value::Str(b)) => {
            a.extend_from_slice(&b);
            Ok(Value::Str(a))
        }
        (Value::Int(a), Value::Int(b)) => Ok(Value::Int(a.wrapping_add(b))),
        (Value::Str(mut a), Value::Int(b)) => {
            a.extend_from_slice(b.to_string().as_bytes());
            Ok(Value::Str(a))
        }
        (Value::Int(a), Value::Str(b)) => {
            let mut s = BString::from(a.to_string());
            s.extend_from_slice(&b);
            Ok(Value::Str(s))
        }
        (Value::Array(mut a), Value::Array(b)) => {
            a.merge(b)?;
            Ok(Value::Array(a))
        }
        (l, r) => Err(MergeError::TypeMismatch {
            left: l.type_name(),
            right: r.type_name(),
        }),
    }
}

/// One entry of an [`Array`].
#[derive(Debug, Clone)]
pub struct Entry {
    /// The key as last spelled, if any.
    pub key: Option<BString>,
    /// The value.
    pub value: Value,
    /// Where the entry (or, in a block, the assignment) was written.
    pub span: Span,
    /// Where the key was written (blocks: the assignment's key).
    pub key_span: Span,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        self.key == other.key && self.value == other.value
    }
}

/// ASCII-lowercased key, the identity of an entry.
fn fold(key: &[u8]) -> Box<[u8]> {
    key.to_ascii_lowercase().into_boxed_slice()
}

/// An ordered array of entries with case-insensitive key lookup.
#[derive(Debug, Clone, Default)]
pub struct Array {
    entries: Vec<Entry>,
    index: HashMap<Box<[u8]>, usize>,
}

impl PartialEq for Array {
    fn eq(&self, other: &Array) -> bool {
        self.entries == other.entries
    }
}

impl Array {
    /// An empty array.
    pub fn new() -> Self {
        Array::default()
    }

    /// The entries in order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Position of the entry with this key (case-insensitive).
    pub fn position(&self, key: &[u8]) -> Option<usize> {
        if self.entries.len() < 8 {
            return self
                .entries
                .iter()
                .position(|e| e.key.as_ref().is_some_and(|k| k.eq_ignore_ascii_case(key)));
        }
        self.index.get(&fold(key)).copied()
    }

    /// The entry with this key (case-insensitive).
    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        self.position(key).map(|i| &self.entries[i])
    }

    /// Mutable access to the entry with this key (case-insensitive).
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.position(key).map(move |i| &mut self.entries[i])
    }

    /// Appends an entry. The caller has checked that its key is new.
    pub fn push(&mut self, entry: Entry) {
        if let Some(k) = &entry.key {
            self.index.insert(fold(k), self.entries.len());
        }
        self.entries.push(entry);
    }

    /// Replaces the entry at `at` in place (same position, new spelling).
    pub fn replace(&mut self, at: usize, entry: Entry) {
        if let Some(old) = &self.entries[at].key {
            self.index.remove(&fold(old));
        }
        if let Some(k) = &entry.key {
            self.index.insert(fold(k), at);
        }
        self.entries[at] = entry;
    }

    /// Removes the entry at `at`; the last entry moves into its slot
    /// (lighttpd's `array_extract_element_klen`).
    pub fn swap_remove(&mut self, at: usize) -> Entry {
        let removed = self.entries.swap_remove(at);
        if let Some(k) = &removed.key {
            self.index.remove(&fold(k));
        }
        if let Some(moved) = self.entries.get(at).and_then(|e| e.key.as_ref()) {
            self.index.insert(fold(moved), at);
        }
        removed
    }

    /// Merges `other` into `self` (spec §5.4): unkeyed entries and new keys
    /// are appended; a key already present is skipped when both values are
    /// equal strings or equal integers, and is an error otherwise.
    pub fn merge(&mut self, other: Array) -> Result<(), MergeError> {
        for entry in other.entries {
            match &entry.key {
                Some(k) => match self.get(k) {
                    None => self.push(entry),
                    Some(existing) => {
                        let same_scalar = matches!(
                            (&existing.value, &entry.value),
                            (Value::Str(a), Value::Str(b)) if a == b
                        ) || matches!(
                            (&existing.value, &entry.value),
                            (Value::Int(a), Value::Int(b)) if a == b
                        );
                        if !same_scalar {
                            return Err(MergeError::DuplicateKey {
                                key: k.clone(),
                                span: entry.key_span,
                            });
                        }
                    }
                },
                None => self.push(entry),
            }
        }
        Ok(())
    }
}

/// Renders bytes for a message: lossy UTF-8.
pub fn show(bytes: &[u8]) -> String {
    bytes.to_str_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, v: i32) -> Entry {
        Entry {
            key: Some(key.into()),
            value: Value::Int(v),
            span: Span::default(),
            key_span: Span::default(),
        }
    }

    fn keys(a: &Array) -> Vec<String> {
        a.entries()
            .iter()
            .map(|e| show(e.key.as_ref().map_or(&b""[..], |k| k.as_slice())))
            .collect()
    }

    /// Removing an entry moves the last one into the hole (corpus 031).
    #[test]
    fn swap_remove_moves_last_entry_into_the_hole() {
        let mut a = Array::new();
        for (i, k) in ["a", "b", "c", "d"].iter().enumerate() {
            a.push(entry(k, i as i32));
        }
        let b = a.swap_remove(1);
        a.push(b);
        assert_eq!(keys(&a), ["a", "d", "c", "b"]);
        assert_eq!(a.position(b"D"), Some(1));
    }

    /// The index stays right for large arrays too.
    #[test]
    fn lookup_is_case_insensitive_in_large_arrays() {
        let mut a = Array::new();
        for i in 0..100 {
            a.push(entry(&format!("Key{i}"), i));
        }
        assert_eq!(a.position(b"KEY42"), Some(42));
        let e = a.swap_remove(0);
        assert_eq!(e.key.as_ref().map(|k| k.as_slice()), Some(&b"Key0"[..]));
        assert_eq!(a.position(b"key99"), Some(0));
        assert_eq!(a.position(b"key0"), None);
    }

    /// `+` on mixed scalar types follows lighttpd: left to right, to string.
    #[test]
    fn add_follows_the_type_table() {
        let s = |x: &str| Value::Str(x.into());
        assert_eq!(add(Value::Int(1), Value::Int(2)).unwrap(), Value::Int(3));
        assert_eq!(add(Value::Int(3), s("x")).unwrap(), s("3x"));
        assert_eq!(add(s("x"), Value::Int(1)).unwrap(), s("x1"));
        assert_eq!(
            add(Value::Int(i32::MAX), Value::Int(1)).unwrap(),
            Value::Int(i32::MIN)
        );
        assert!(matches!(
            add(Value::Array(Array::new()), s("b")),
            Err(MergeError::TypeMismatch { .. })
        ));
    }

    /// Re-adding an identical pair is tolerated; a different value is not.
    #[test]
    fn merge_tolerates_identical_duplicates_only() {
        let mut a = Array::new();
        a.push(entry("k", 1));
        let mut same = Array::new();
        same.push(entry("K", 1));
        assert!(a.clone().merge(same).is_ok());
        let mut other = Array::new();
        other.push(entry("K", 2));
        assert!(matches!(
            a.merge(other),
            Err(MergeError::DuplicateKey { .. })
        ));
    }
}
