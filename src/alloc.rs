//! The process's allocator: mimalloc, called by the entry point that suits
//! each request.
//!
//! The `mimalloc` crate's `GlobalAlloc` sends every allocation through
//! mimalloc's aligned API. For the alignments Rust asks for almost always
//! (8 or 16) that costs a detour on each call, and for blocks over 1 KiB
//! (a `HeaderMap`'s table, hyper's buffers) mimalloc's slow generic aligned
//! path. Plain `mi_malloc` already returns such blocks aligned: a block's
//! size class is a multiple of 8 bytes (of 16 above 64 bytes) and a page's
//! first block is 16-aligned, so a size that is a multiple of an alignment
//! up to 16 lands on a boundary of that alignment. Everything else keeps
//! the aligned API. (The test below checks the claim across sizes.)

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The alignment mimalloc guarantees for every block whose size is a
/// multiple of it (`MI_MAX_ALIGN_SIZE` on 64-bit targets).
const NATURAL_ALIGN: usize = 16;

/// mimalloc, taking its plain entry points where they give the alignment
/// asked for.
pub struct Mimalloc;

/// Whether a block of `size` bytes from mimalloc's plain API is aligned to
/// `align` (a power of two).
#[inline]
fn natural(size: usize, align: usize) -> bool {
    align <= NATURAL_ALIGN && size & (align - 1) == 0
}

/// A block for `layout` from `plain` (size) or, where that would not be
/// aligned, from `aligned` (size, alignment).
#[inline]
unsafe fn block(
    layout: Layout,
    plain: unsafe extern "C" fn(usize) -> *mut c_void,
    aligned: unsafe extern "C" fn(usize, usize) -> *mut c_void,
) -> *mut u8 {
    // SAFETY: plain FFI calls; the sizes come from a valid layout
    unsafe {
        if natural(layout.size(), layout.align()) {
            plain(layout.size()).cast()
        } else {
            aligned(layout.size(), layout.align()).cast()
        }
    }
}

// SAFETY: every pointer comes from mimalloc with at least the layout's
// size and alignment (see `natural`), and is given back to mimalloc.
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: see `block`
        unsafe { block(layout, mi::mi_malloc, mi::mi_malloc_aligned) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: see `block`
        unsafe { block(layout, mi::mi_zalloc, mi::mi_zalloc_aligned) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator (GlobalAlloc's contract)
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout`
        unsafe {
            if natural(new_size, layout.align()) {
                mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every (size, alignment) the plain path takes comes back aligned,
    /// also when it grows or shrinks in place or moves; zeroed blocks are
    /// zero. Many blocks of each kind are kept alive at once so that they
    /// come from all over their pages, not from one reused slot.
    #[test]
    fn plain_blocks_are_aligned() {
        let a = Mimalloc;
        for align in [1usize, 2, 4, 8, 16, 32, 64, 4096] {
            for size in (1..=2048).chain([4095, 4096, 8192, 65536, 1 << 20]) {
                if size % align != 0 {
                    continue;
                }
                let layout = Layout::from_size_align(size, align).expect("layout");
                let mut held = Vec::new();
                for i in 0..8 {
                    // SAFETY: a non-zero size and a valid layout
                    let p = unsafe {
                        if i % 2 == 0 {
                            a.alloc(layout)
                        } else {
                            a.alloc_zeroed(layout)
                        }
                    };
                    assert!(!p.is_null(), "size {size} align {align}");
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    if i % 2 == 1 {
                        // SAFETY: `p` has `size` initialised (zeroed) bytes
                        let s = unsafe { std::slice::from_raw_parts(p, size) };
                        assert!(s.iter().all(|&b| b == 0), "zeroed {size}");
                    }
                    held.push(p);
                }
                for p in held {
                    let grown = size * 3;
                    // SAFETY: `p` came from `a` with `layout`; `grown` is
                    // non-zero and a multiple of the alignment
                    let q = unsafe { a.realloc(p, layout, grown) };
                    assert!(!q.is_null());
                    assert_eq!(
                        q as usize % align,
                        0,
                        "realloc {size}->{grown} align {align}"
                    );
                    let grown_layout = Layout::from_size_align(grown, align).expect("layout");
                    // SAFETY: `q` came from `a` with `grown_layout`
                    unsafe { a.dealloc(q, grown_layout) };
                }
            }
        }
    }
}
