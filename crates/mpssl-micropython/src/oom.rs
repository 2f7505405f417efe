//! Allocation failure as `OSError(ENOMEM)` instead of an abort.
//!
//! Rust's collections abort the process when the global allocator returns null
//! (`handle_alloc_error`); on stable Rust that cannot be turned into an error. So this crate's
//! global allocator ([`Allocator`]) never returns null while it can help it: it asks the system
//! allocator first and, when that fails, serves the request from a small static **reserve**
//! ([`RESERVE_SIZE`] bytes) and raises a per-thread "out of memory" flag. The engine call in
//! progress therefore completes normally on reserve memory; when it returns, the ABI's choke
//! point ([`crate::guard`], through [`watch`]) sees the flag, the socket concerned drops its TLS
//! state (giving the reserve back) and stays failed, and the call returns `MPSSL_ERROR` with
//! [`crate::Kind::NoMemory`], which the C side raises as `OSError(ENOMEM)` — as the reference
//! does for `MBEDTLS_ERR_SSL_ALLOC_FAILED`. While the flag is up the I/O callbacks are not
//! called any more (the stream reports out-of-memory), so a failing handshake stops at its
//! next read or write instead of running on reserve memory.
//!
//! The reserve is a first-fit chunk allocator over a static arena: a bitmap holds one bit per
//! 16-byte chunk. Allocating scans the bitmap for a free, suitably aligned run under a spin
//! lock (only allocators take it, and only on this emergency path); freeing a reserve block,
//! recognised by its address, clears its bits without the lock. So a block that stays alive (a
//! context whose call failed keeps what it allocated then) costs only its own chunks. Only if
//! the reserve itself cannot serve a request (no free run is long enough, or the alignment is
//! above 4096) does the allocator return null, and the process then aborts as
//! before. The size comes from measurement: `tests/oom.rs` makes the system allocator fail at
//! 200 points spread over a whole connection (two contexts, two sockets, the handshake, a
//! 16 KiB record each way, about 410 KB of system allocations) and prints the reserve's
//! high-water mark: 56-65 KiB (the test's own buffers included). The reserve is 256 KiB,
//! room for about four such failures in progress at once (threads) before the abort.
//!
//! The flag and the test switch are `const`-initialised thread-locals without destructors
//! (native TLS on Linux and macOS: reading them never allocates).
// The allocator must handle raw memory; every unsafe block says why it is sound.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// Bytes in the emergency reserve.
pub const RESERVE_SIZE: usize = 256 * 1024;

/// The largest alignment the reserve serves (the arena's own alignment).
const RESERVE_ALIGN: usize = 4096;

/// The reserve's bytes.
#[repr(C, align(4096))]
struct Arena(UnsafeCell<[u8; RESERVE_SIZE]>);

// SAFETY: the bytes are only reached through pointers handed out by `reserve_alloc`, which
// gives each live block a range no other live block overlaps (the bitmap below); the
// `Arena` value itself is never read or written.
unsafe impl Sync for Arena {}

static ARENA: Arena = Arena(UnsafeCell::new([0; RESERVE_SIZE]));

/// Bytes per bitmap bit.
const CHUNK: usize = 16;
/// Chunks in the arena.
const CHUNKS: usize = RESERVE_SIZE / CHUNK;
/// One bit per chunk, set while the chunk belongs to a live block. Set only by an allocator
/// holding [`LOCK`]; cleared by whoever frees the block.
static MAP: [AtomicU64; CHUNKS / 64] = [const { AtomicU64::new(0) }; CHUNKS / 64];
/// Held while an allocator searches the bitmap and claims a run.
static LOCK: AtomicBool = AtomicBool::new(false);
/// Chunks in use now, and the most ever in use at once (for measurement).
static IN_USE: AtomicUsize = AtomicUsize::new(0);
static HIGH_WATER: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// An allocation on this thread was served from the reserve since [`watch`] began.
    static FAILED: Cell<bool> = const { Cell::new(false) };
    /// Test switch: bytes the system allocator may still hand out on this thread.
    static BUDGET: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// The wrapped system allocator (see the module documentation).
#[derive(Debug)]
pub struct Allocator;

#[global_allocator]
static GLOBAL: Allocator = Allocator;

fn arena_base() -> *mut u8 {
    ARENA.0.get().cast::<u8>()
}

fn in_reserve(ptr: *mut u8) -> bool {
    let base = arena_base() as usize;
    let addr = ptr as usize;
    addr >= base && addr < base + RESERVE_SIZE
}

/// Whether the test switch lets the system allocator serve `size` bytes (and charge them).
fn system_allowed(size: usize) -> bool {
    BUDGET
        .try_with(|b| {
            let left = b.get();
            if left == usize::MAX {
                return true;
            }
            if size > left {
                return false;
            }
            b.set(left - size);
            true
        })
        .unwrap_or(true)
}

fn raise_flag() {
    let _ = FAILED.try_with(|f| f.set(true));
}

fn chunk_used(i: usize) -> bool {
    MAP[i / 64].load(Ordering::Acquire) & (1 << (i % 64)) != 0
}

/// Chunks a block of `size` bytes takes (at least one, so that its address lies inside).
fn chunks_for(size: usize) -> usize {
    size.max(1).div_ceil(CHUNK)
}

/// A block of `layout` from the reserve, or null when it has no room.
fn reserve_alloc(layout: Layout) -> *mut u8 {
    if layout.align() > RESERVE_ALIGN || layout.size() > RESERVE_SIZE {
        return std::ptr::null_mut();
    }
    let n = chunks_for(layout.size());
    // The arena starts at a multiple of RESERVE_ALIGN >= align: a chunk index that is a
    // multiple of `step` gives an aligned address.
    let step = (layout.align() / CHUNK).max(1);
    while LOCK
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        std::hint::spin_loop();
    }
    let mut start = 0;
    let mut found = None;
    while start + n <= CHUNKS {
        match (start..start + n).rev().find(|&i| chunk_used(i)) {
            // Skip past the used chunk, to the next aligned index.
            Some(used) => start = (used + 1).next_multiple_of(step),
            None => {
                found = Some(start);
                break;
            }
        }
    }
    if let Some(start) = found {
        for i in start..start + n {
            MAP[i / 64].fetch_or(1 << (i % 64), Ordering::Relaxed);
        }
        let now = IN_USE.fetch_add(n, Ordering::Relaxed) + n;
        HIGH_WATER.fetch_max(now, Ordering::Relaxed);
    }
    LOCK.store(false, Ordering::Release);
    match found {
        // `start + n <= CHUNKS`: the block is inside the arena; its chunks were free and are
        // now marked, and only an allocator holding the lock marks chunks, so no other live
        // block overlaps it.
        Some(start) => arena_base().wrapping_add(start * CHUNK),
        None => std::ptr::null_mut(),
    }
}

/// Give back the reserve block at `ptr` made for `layout`.
fn reserve_free(ptr: *mut u8, layout: Layout) {
    let start = (ptr as usize - arena_base() as usize) / CHUNK;
    let n = chunks_for(layout.size());
    for i in start..(start + n).min(CHUNKS) {
        // Release: the block's last uses happen before a later allocator (Acquire) reuses it.
        MAP[i / 64].fetch_and(!(1 << (i % 64)), Ordering::Release);
    }
    IN_USE.fetch_sub(n, Ordering::Relaxed);
}

// SAFETY: every block returned is either the system allocator's (valid for its layout) or a
// reserve range of at least `layout.size()` bytes at an address aligned to `layout.align()`
// (checked against RESERVE_ALIGN), disjoint from every other live block (the bitmap);
// `dealloc`/`realloc` send each pointer back to the allocator that made it, told apart by
// address, since no system block can lie inside the static arena.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if system_allowed(layout.size()) {
            // SAFETY: forwarded with the caller's layout (non-zero size, by GlobalAlloc's contract).
            let ptr = unsafe { System.alloc(layout) };
            if !ptr.is_null() {
                return ptr;
            }
        }
        raise_flag();
        reserve_alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if system_allowed(layout.size()) {
            // SAFETY: as in `alloc`.
            let ptr = unsafe { System.alloc_zeroed(layout) };
            if !ptr.is_null() {
                return ptr;
            }
        }
        raise_flag();
        let ptr = reserve_alloc(layout);
        if !ptr.is_null() {
            // SAFETY: a fresh reserve block of `layout.size()` writable bytes, owned by no one
            // else (it may hold bytes of a block freed earlier).
            unsafe { std::ptr::write_bytes(ptr, 0, layout.size()) };
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if in_reserve(ptr) {
            reserve_free(ptr, layout);
        } else {
            // SAFETY: not a reserve address, so the system allocator made it with `layout`.
            unsafe { System.dealloc(ptr, layout) };
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !in_reserve(ptr) && system_allowed(new_size) {
            // SAFETY: a system block of `layout`; `new_size` valid by the caller's contract.
            let new = unsafe { System.realloc(ptr, layout, new_size) };
            if !new.is_null() {
                return new;
            }
        }
        // SAFETY: `new_size` with the old alignment is a valid layout (caller's contract).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: a valid, non-zero-size layout.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: `ptr` is valid for `layout.size()` bytes, `new` for `new_size`; the two
            // blocks are both live, hence disjoint.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}

/// Run `f` and tell whether an allocation on this thread failed meanwhile (and was served from
/// the reserve). Nests: an outer `watch` also sees a failure inside an inner one.
pub fn watch<R>(f: impl FnOnce() -> R) -> (R, bool) {
    let previous = FAILED.try_with(|c| c.replace(false)).unwrap_or(false);
    let result = f();
    let failed = FAILED.try_with(Cell::get).unwrap_or(false);
    let _ = FAILED.try_with(|c| c.set(previous || failed));
    (result, failed)
}

/// Whether an allocation on this thread failed since the innermost [`watch`] began.
pub fn failed() -> bool {
    FAILED.try_with(Cell::get).unwrap_or(false)
}

/// Test switch: from now on the system allocator serves at most `bytes` more bytes on this
/// thread, then fails (as a real out-of-memory would); `None` turns the switch off.
#[doc(hidden)]
pub fn test_fail_system_after(bytes: Option<usize>) {
    let _ = BUDGET.try_with(|b| b.set(bytes.map_or(usize::MAX, |n| n.min(usize::MAX - 1))));
}

/// Test switch: bytes the system allocator may still hand out on this thread (`None`: off).
#[doc(hidden)]
pub fn test_system_budget_left() -> Option<usize> {
    BUDGET
        .try_with(Cell::get)
        .ok()
        .filter(|&left| left != usize::MAX)
}

/// The most reserve bytes ever in use at once (for sizing [`RESERVE_SIZE`]).
#[doc(hidden)]
pub fn reserve_high_water() -> usize {
    HIGH_WATER.load(Ordering::Relaxed) * CHUNK
}

/// Reserve bytes in use now (0 once every reserve block was freed).
#[doc(hidden)]
pub fn reserve_in_use() -> usize {
    IN_USE.load(Ordering::Relaxed) * CHUNK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_blocks_are_aligned_disjoint_and_reused_around_a_kept_block() {
        let small = Layout::from_size_align(24, 8).expect("layout");
        let page = Layout::from_size_align(100, 4096).expect("layout");
        let kept = reserve_alloc(small);
        let a = reserve_alloc(page);
        let b = reserve_alloc(small);
        assert!(in_reserve(kept) && in_reserve(a) && in_reserve(b));
        assert_eq!(a as usize % 4096, 0);
        assert!(b as usize >= kept as usize + 24 || b as usize + 24 <= kept as usize);
        reserve_free(a, page);
        reserve_free(b, small);
        // `kept` stays: the space after it is served again, first fit.
        let again = reserve_alloc(small);
        assert_eq!(again, b);
        reserve_free(again, small);
        // Too large or too aligned: null (the caller then aborts).
        let huge = Layout::from_size_align(RESERVE_SIZE, 8).expect("layout");
        assert!(reserve_alloc(huge).is_null());
        let aligned = Layout::from_size_align(8, 8192).expect("layout");
        assert!(reserve_alloc(aligned).is_null());
        reserve_free(kept, small);
        assert_eq!(reserve_in_use(), 0);
    }
}
