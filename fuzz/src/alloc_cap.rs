//! A global allocator that counts the live heap and aborts past a cap.
//!
//! libFuzzer's `-malloc_limit_mb` works only through a sanitizer's
//! allocator hooks, and a stable-toolchain build has no sanitizer; its
//! `-rss_limit_mb` polls the RSS once a second and misses a short spike.
//! So the targets count every Rust allocation themselves: one that would
//! take the live heap over [`MAX_LIVE_BYTES`] aborts the process with a
//! message, which libFuzzer reports as a crash and saves. (zstd's own
//! buffers come from C `malloc` and are covered by `-rss_limit_mb`; the
//! decoder's window is capped by `ReadLimits::max_zstd_window_log`.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Most live Rust heap bytes the process may hold. Reading one archive
/// under `ReadLimits::default()` needs at most about 100 MiB (four tables
/// of 50,000 rows × 18 columns, a 1 MiB manifest as a JSON value, line
/// buffers), so anything near this cap is a missing bound.
pub const MAX_LIVE_BYTES: usize = 256 << 20;

/// The allocator: [`System`] plus a count of live bytes.
#[derive(Debug)]
pub struct CappedAlloc {
    live: AtomicUsize,
    peak: AtomicUsize,
}

impl CappedAlloc {
    /// Bytes currently allocated.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// The most bytes ever allocated at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    fn grow(&self, bytes: usize) {
        let live = self.live.fetch_add(bytes, Ordering::Relaxed).saturating_add(bytes);
        if live > MAX_LIVE_BYTES {
            over_cap(bytes, live);
        }
        self.peak.fetch_max(live, Ordering::Relaxed);
    }

    fn shrink(&self, bytes: usize) {
        self.live.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// Reports and aborts without allocating (the allocator is the one that
/// refused): a fixed message through `write(2)`.
#[cold]
fn over_cap(_bytes: usize, _live: usize) -> ! {
    use std::io::Write;
    let msg = b"\n==cis490-fuzz== live heap over MAX_LIVE_BYTES (256 MiB): an allocation is not bounded\n";
    let _ = std::io::stderr().write_all(msg);
    std::process::abort()
}

/// The process-wide instance.
#[global_allocator]
pub static ALLOCATOR: CappedAlloc = CappedAlloc { live: AtomicUsize::new(0), peak: AtomicUsize::new(0) };

// SAFETY: every method forwards to `System` with the caller's layout and
// pointer unchanged; the counting around it touches no memory it returns.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.grow(layout.size());
        // SAFETY: forwarded as is (see above).
        let ptr = unsafe { System.alloc(layout) };
        if ptr.is_null() {
            self.shrink(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.grow(layout.size());
        // SAFETY: forwarded as is.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if ptr.is_null() {
            self.shrink(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.shrink(layout.size());
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old_size = layout.size();
        if new_size > old_size {
            self.grow(new_size - old_size);
        }
        // SAFETY: forwarded as is.
        let moved = unsafe { System.realloc(ptr, layout, new_size) };
        if moved.is_null() {
            // The old block is still live, with its old size.
            self.shrink(new_size.saturating_sub(old_size));
        } else if new_size < old_size {
            self.shrink(old_size - new_size);
        }
        moved
    }
}
