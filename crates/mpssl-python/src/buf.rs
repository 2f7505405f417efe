//! Bytes-like argument extraction (≈ pyca's `CffiBuf`): one helper for every buffer argument.

use pyo3::buffer::PyUntypedBuffer;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyString;

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
