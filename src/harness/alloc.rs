//! Counting allocations: how many, and how many bytes, a kernel call asks the allocator for.
//!
//! A library must not choose the process's allocator, so this module only defines
//! [`CountingAllocator`]; the `lancehead` binary installs it with `#[global_allocator]`.
//! The counters are process-wide atomics, because rayon's worker threads allocate on behalf of
//! the kernel too; the harness reads them just before and just after the kernel call (no other
//! thread of the harness allocates meanwhile: the progress bar is redrawn between calls only).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

/// The system allocator, counting every allocation and reallocation and the bytes requested.
pub struct CountingAllocator;

// SAFETY: every call is forwarded unchanged to `System`; the counting touches only atomics.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which we forward.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, i.e. from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A reallocation is an allocation of `new_size` bytes as far as the kernel's memory
        // traffic is concerned (it may move and copy).
        count(new_size);
        // SAFETY: as for `dealloc`, and `new_size` is the caller's valid request.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[inline]
fn count(bytes: usize) {
    ALLOCATIONS.fetch_add(1, Relaxed);
    BYTES.fetch_add(bytes as u64, Relaxed);
}

/// Allocations and bytes requested, since the process started or between two snapshots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AllocCount {
    pub allocations: u64,
    pub bytes: u64,
}

impl AllocCount {
    /// What was allocated between `self` (earlier) and `later`.
    pub fn until(self, later: AllocCount) -> AllocCount {
        AllocCount {
            allocations: later.allocations - self.allocations,
            bytes: later.bytes - self.bytes,
        }
    }
}

/// The counts so far, or `None` when [`CountingAllocator`] is not this process's allocator
/// (nothing was ever counted: any Rust program has allocated by the time it measures).
pub fn snapshot() -> Option<AllocCount> {
    let allocations = ALLOCATIONS.load(Relaxed);
    (allocations > 0).then(|| AllocCount {
        allocations,
        bytes: BYTES.load(Relaxed),
    })
}
