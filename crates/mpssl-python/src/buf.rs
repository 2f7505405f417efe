//! Bytes-like argument extraction (≈ pyca's `CffiBuf`): one helper for every buffer argument.

use pyo3::buffer::PyUntypedBuffer;
use pyo3::exceptions::{PyMemoryError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

/// A read-only view of any C-contiguous bytes-like object (bytes, bytearray, memoryview,
/// array of any item type, …), as bytes.
pub(crate) struct ReadBuf {
    buf: PyUntypedBuffer,
}

impl ReadBuf {
    /// Borrow `obj`'s buffer; `str` gets a `TypeError` with a hint.
    pub(crate) fn extract(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Self> {
        if obj.is_instance_of::<PyString>() {
            return Err(PyTypeError::new_err(format!(
                "{what} must be a bytes-like object, not str (encode it, e.g. s.encode())"
            )));
        }
        let buf = PyUntypedBuffer::get(obj).map_err(|_| {
            let type_name = obj
                .get_type()
                .name()
                .map_or_else(|_| "?".to_owned(), |n| n.to_string());
            PyTypeError::new_err(format!(
                "{what} must be a bytes-like object, not '{type_name}'"
            ))
        })?;
        if !buf.is_c_contiguous() {
            return Err(PyTypeError::new_err(format!(
                "{what} must be a contiguous buffer"
            )));
        }
        Ok(Self { buf })
    }

    /// The bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        let ptr = self.buf.buf_ptr().cast::<u8>();
        let len = self.buf.len_bytes();
        if ptr.is_null() || len == 0 {
            return &[];
        }
        // SAFETY: `self.buf` holds a buffer export (PyObject_GetBuffer) until it is dropped,
        // so the `len_bytes()` bytes at `buf_ptr()` stay allocated and cannot be resized
        // (bytearray refuses to resize while exported) for the lifetime of `&self`; we checked
        // the buffer is C-contiguous, so they are one run of memory, and u8 has no alignment
        // or validity requirement. Not guaranteed: another Python thread may write to the same
        // memory while we read it with the GIL released; we then send bytes it wrote at some
        // point, never read out of bounds.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}

/// A writable view of any C-contiguous bytes-like object (bytearray, memoryview, array, …).
pub(crate) struct WriteBuf {
    buf: PyUntypedBuffer,
}

impl WriteBuf {
    /// Borrow `obj`'s buffer for writing; read-only buffers get a `TypeError`.
    pub(crate) fn extract(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Self> {
        let buf = PyUntypedBuffer::get(obj).map_err(|_| {
            PyTypeError::new_err(format!("{what} must be a writable bytes-like object"))
        })?;
        if buf.readonly() {
            return Err(PyTypeError::new_err(format!(
                "{what} must be a writable bytes-like object (bytearray, memoryview), not a \
                 read-only buffer"
            )));
        }
        if !buf.is_c_contiguous() {
            return Err(PyTypeError::new_err(format!(
                "{what} must be a contiguous buffer"
            )));
        }
        Ok(Self { buf })
    }

    /// Length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.buf.len_bytes()
    }

    /// The bytes, for writing.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        let ptr = self.buf.buf_ptr().cast::<u8>();
        let len = self.buf.len_bytes();
        if ptr.is_null() || len == 0 {
            return &mut [];
        }
        // SAFETY: as in `ReadBuf::as_slice`, the export keeps the `len` bytes at `ptr`
        // allocated and unresizable while `self` lives, and they are contiguous; we checked the
        // buffer is writable, and any byte value is valid for its items. `&mut self` makes
        // this the only Rust reference to it. Not guaranteed: Python code in another thread
        // may access the same memory while the GIL is released; it then sees partly written
        // data, as with any readinto.
        unsafe { std::slice::from_raw_parts_mut(ptr, len) }
    }
}

/// The data argument of a stream write (`write`, `send`, `sendall`): any buffer, or a `str`
/// as its UTF-8 encoding (MicroPython's buffer view of a `str`, `py/objstr.c`).
pub(crate) enum StreamData<'a> {
    /// A bytes-like object.
    Buffer(ReadBuf),
    /// A `str`'s UTF-8 encoding (cached by the `str` object, which the caller holds).
    Text(&'a [u8]),
}

impl<'a> StreamData<'a> {
    /// Borrow `obj`'s bytes.
    pub(crate) fn extract(obj: &'a Bound<'_, PyAny>, what: &str) -> PyResult<Self> {
        if let Ok(text) = obj.cast::<PyString>() {
            return Ok(Self::Text(text.to_str()?.as_bytes()));
        }
        Ok(Self::Buffer(ReadBuf::extract(obj, what)?))
    }

    /// The bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Self::Buffer(buf) => buf.as_slice(),
            Self::Text(bytes) => bytes,
        }
    }
}

/// MicroPython's optional stream arguments (`py/stream.c`): `(buf, n)` takes at most `n`
/// bytes, `(buf, off, n)` starts at `off`. Both are C `size_t` there, so a negative `n` means
/// no limit and a negative `off` is past the end; an `off` past the end is clamped.
pub(crate) fn window<'s>(
    data: &'s [u8],
    first: Option<&Bound<'_, PyAny>>,
    second: Option<&Bound<'_, PyAny>>,
) -> PyResult<&'s [u8]> {
    let size_t = |v: &Bound<'_, PyAny>| -> PyResult<usize> {
        let v: i64 = v.extract()?;
        Ok(usize::try_from(v).unwrap_or(usize::MAX))
    };
    let (off, max) = match (first, second) {
        (None, _) => (0, usize::MAX),
        (Some(n), None) => (0, size_t(n)?),
        (Some(off), Some(n)) => (size_t(off)?, size_t(n)?),
    };
    let rest = data.get(off..).unwrap_or(&[]);
    Ok(&rest[..rest.len().min(max)])
}

/// The bytes of one large read (an unbounded `readline()`), kept in memory from the C
/// allocator, then turned into a `bytes` object without holding two full copies.
///
/// The global allocator (mimalloc) grows a `Vec` by copying and keeps freed memory for a
/// while, so a 128 MiB line used to peak at about three times its size (issue 9, defect 7).
/// glibc's `realloc` grows and shrinks a large block in place (`mremap`), and pages never
/// written are never resident: the data is copied into the new `bytes` object from the back,
/// shrinking this buffer as it goes, so the peak stays near the data's size.
pub(crate) struct BigBuf {
    ptr: *mut u8,
    len: usize,
    cap: usize,
}

impl BigBuf {
    /// How much one copy step moves (and the buffer shrinks by).
    const STEP: usize = 1 << 20;

    pub(crate) fn new() -> Self {
        Self {
            ptr: std::ptr::null_mut(),
            len: 0,
            cap: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The bytes so far.
    pub(crate) fn as_slice(&self) -> &[u8] {
        if self.ptr.is_null() {
            return &[];
        }
        // SAFETY: `ptr` is a live allocation of `cap >= len` bytes whose first `len` bytes
        // were written by `extend`; `&self` keeps it from being reallocated while borrowed.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// Resize the allocation to `cap` bytes (0 frees it).
    fn reallocate(&mut self, cap: usize) -> PyResult<()> {
        if cap == 0 {
            // SAFETY: `ptr` is null or came from `realloc` and has not been freed.
            unsafe { libc::free(self.ptr.cast()) };
            self.ptr = std::ptr::null_mut();
            self.cap = 0;
            return Ok(());
        }
        // SAFETY: `ptr` is null (realloc then allocates) or a live block from `realloc`; on
        // failure the old block is left untouched and still ours.
        let p = unsafe { libc::realloc(self.ptr.cast(), cap) };
        if p.is_null() {
            return Err(PyMemoryError::new_err(()));
        }
        self.ptr = p.cast();
        self.cap = cap;
        Ok(())
    }

    /// Append `data`.
    pub(crate) fn extend(&mut self, data: &[u8]) -> PyResult<()> {
        let need = self
            .len
            .checked_add(data.len())
            .ok_or_else(|| PyMemoryError::new_err(()))?;
        if need > self.cap {
            self.reallocate(need.max(self.cap.saturating_mul(2)).max(Self::STEP))?;
        }
        // SAFETY: the block holds `cap >= need` bytes, so `len..need` is in bounds; `data`
        // is a separate allocation (a `&[u8]` cannot alias our uniquely owned block).
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.add(self.len), data.len()) };
        self.len = need;
        Ok(())
    }

    /// Move the bytes into a new `bytes` object.
    pub(crate) fn into_bytes(mut self, py: Python<'_>) -> PyResult<Bound<'_, PyBytes>> {
        let size = isize::try_from(self.len).map_err(|_| PyMemoryError::new_err(()))?;
        // SAFETY: with a NULL source, PyBytes_FromStringAndSize returns a new bytes object of
        // `size` uninitialised bytes (or NULL with an exception set), which its only owner
        // may fill before anyone else sees it.
        let obj = unsafe {
            let raw = ffi::PyBytes_FromStringAndSize(std::ptr::null(), size);
            Bound::from_owned_ptr_or_err(py, raw)?.cast_into_unchecked::<PyBytes>()
        };
        // SAFETY: `obj` is a bytes object, so PyBytes_AsString returns its buffer of `size`
        // (+1) bytes; nothing else holds a reference to it yet.
        let dst = unsafe { ffi::PyBytes_AsString(obj.as_ptr()) }.cast::<u8>();
        if dst.is_null() {
            return Err(PyErr::fetch(py));
        }
        let mut end = self.len;
        while end > 0 {
            let start = end.saturating_sub(Self::STEP);
            // SAFETY: `start..end` is within both our `len` initialised bytes and the
            // bytes object's `size` bytes; the two are separate allocations.
            unsafe {
                std::ptr::copy_nonoverlapping(self.ptr.add(start), dst.add(start), end - start);
            }
            self.len = start;
            // Give the copied tail back to the system now (in place for a large block).
            self.reallocate(start)?;
            end = start;
        }
        Ok(obj)
    }
}

impl Drop for BigBuf {
    fn drop(&mut self) {
        // SAFETY: `ptr` is null or a live block from `realloc`, freed only here or by
        // `reallocate(0)`, which nulls it.
        unsafe { libc::free(self.ptr.cast()) };
    }
}
