//! Interpreter exit versus threads inside mpssl: every GIL release and re-acquisition, and
//! every call into Python code, goes through this module.
//!
//! # The hazard (CPython 3.11 to 3.13)
//!
//! Once `Py_FinalizeEx` has set the runtime's "finalizing" flag (after the `atexit` handlers,
//! before module teardown), any other thread that tries to take the GIL is ended on the spot:
//! `take_gil` → `tstate_must_exit` → `PyThread_exit_thread` → `pthread_exit`. On glibc,
//! `pthread_exit` is a *forced unwind*: it walks the thread's stack and runs every landing pad
//! it finds. Rust frames have landing pads: drops, and PyO3's trampolines, which wrap each
//! `#[pymethods]` function in `catch_unwind`. When the unwind reaches a `catch_unwind`, Rust
//! catches a foreign exception, deletes it, and glibc aborts the process (`FATAL: exception not
//! rethrown`, exit code 134). Before that, the drops it passes run as if the thread still held
//! the GIL: a `Python::attach` guard calls `PyGILState_Release` and hands the *finalizing
//! thread's* GIL away (`Fatal Python error: PyThreadState_Get`), temporaries are `Py_DECREF`ed
//! without the GIL. A daemon thread is ended this way when it takes the GIL back after a
//! blocking call (the end of `py.detach`, `Python::attach` from a detached thread), and also
//! while it runs Python code that mpssl called (a stream object's `recv_into`, a
//! `verify_callback`, the wrapped socket's `close`): that code gives the GIL up (any blocking
//! call, or the eval loop's switch interval) and takes it back.
//!
//! CPython 3.14 hangs such a thread instead (`PyThread_hang_thread`, gh-87135); PyO3 0.30 does
//! the same for its own two entry points on older versions: its `PyEval_RestoreThread` and
//! `PyGILState_Ensure` wrappers hold a guard that parks the thread if the call unwinds
//! (PyO3 PR 4874; rust-lang/rust issue 135929).
//!
//! # What this module guarantees
//!
//! A thread inside mpssl is never unwound past an mpssl frame: the forced unwind stops in a
//! guard ([`ParkOnExit`]) that parks the thread forever, as CPython 3.14 does, before any other
//! drop of ours runs and before PyO3's `catch_unwind`.
//! * [`detach`] (for `py.detach`) and [`attach`] (for `Python::attach` from a detached thread)
//!   arm a guard around the re-acquisition, behind PyO3's own.
//! * [`call_method0`], [`call_method1`] and [`call2`] call Python through our own
//!   `extern "C-unwind"` declarations of the limited API's `PyObject_CallMethodObjArgs` /
//!   `PyObject_CallFunctionObjArgs` (PyO3 declares them `extern "C"`, through which unwinding
//!   is undefined behaviour), with the guard as the innermost drop of the calling frame: the
//!   Python code's own `take_gil` ends in the park, with nothing else dropped.
//! * [`attach`] also arms a guard inside the attached closure, so that Python code reached
//!   through PyO3's own conversions (an `__index__`, a finalizer run by the cycle collector
//!   during an allocation) parks before PyO3's `PyGILState_Release` runs.
//!
//! A parked thread holds on to whatever it held: its Python frames (CPython 3.11 frees a
//! stale thread state without clearing its frames, so the objects they reference stay alive)
//! and, for a stream-object transport or a `verify_callback`, the socket's lock. The process
//! exits normally; a finalizer that uses that same socket during interpreter teardown waits
//! for the lock forever, as it would on CPython 3.14.
//!
//! # Why not a gate
//!
//! Checking "is the interpreter finalizing" before re-taking the GIL cannot be made atomic with
//! the flag, which the main thread sets while holding the GIL: a thread that checked just
//! before can still be ended, so the unwind has to be survivable anyway, and then the check
//! adds nothing. Closing a gate earlier (in an `atexit` hook) would park daemon threads that
//! later `atexit` handlers may still be waiting for (close a connection, then join its reader
//! thread), turning a clean exit into a hang. `Py_IsFinalizing` is not in the 3.11 limited API.
//!
//! # What it rests on
//!
//! Rust runs a frame's landing pads (drops) during a glibc forced unwind, and its
//! `catch_unwind` catches one and aborts (rust-lang/rust issue 65441, PR 65646). RFC 2945
//! ("C-unwind") leaves a forced unwind through frames with destructors unspecified: the same
//! ground PyO3's own guards stand on. Were Rust ever to skip landing pads for forced unwinds
//! (rust-lang/rust issue 101469), it would skip `catch_unwind` too, and the thread would end
//! without running any Rust code: no abort either way.
//!
//! A Rust panic is not a forced unwind: [`ParkOnExit`] lets it through (PyO3 turns it into
//! `PanicException`). On Windows, CPython ends the thread with `_endthreadex`, which runs no
//! landing pads: nothing to catch, nothing aborts.
//!
//! # What is left
//!
//! Python code that PyO3 runs implicitly in a frame of ours that holds no guard: a finalizer
//! run by the cycle collector during an allocation in a `#[pymethods]` body, a `__getattr__`
//! behind `hasattr`, a `__del__` run by a drop. If the interpreter ends the thread there, the
//! unwind still reaches PyO3's `catch_unwind` (every PyO3 extension on CPython < 3.14 shares
//! this); mpssl's own releases of the GIL and its own calls into Python never do.

use std::marker::PhantomData;
use std::ptr;

use pyo3::ffi::PyObject;
use pyo3::marker::Ungil;
use pyo3::prelude::*;
use pyo3::types::PyString;

/// Parks the current thread forever if it is dropped by an unwind that is not a Rust panic:
/// CPython's `pthread_exit` of a thread that tried to take the GIL during finalization.
/// Disarm it with [`ParkOnExit::disarm`] on the normal path.
#[must_use = "a guard parks only while it is alive"]
pub(crate) struct ParkOnExit {
    /// Not `Send`: the guard belongs to the frame (and thread) that armed it.
    _frame: PhantomData<*const ()>,
}

impl ParkOnExit {
    pub(crate) fn arm() -> Self {
        Self {
            _frame: PhantomData,
        }
    }

    /// The guarded section returned normally.
    pub(crate) fn disarm(self) {
        std::mem::forget(self);
    }
}

impl Drop for ParkOnExit {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // A Rust panic: let it reach PyO3, which raises PanicException.
            return;
        }
        // A forced unwind: the interpreter is finalizing and has ended this thread. Stop the
        // unwind here, as CPython 3.14 does: nothing above this frame runs again.
        loop {
            std::thread::park();
        }
    }
}

/// `py.detach(f)`: run `f` without the GIL. A thread ended by the interpreter's exit when it
/// takes the GIL back parks instead of unwinding.
pub(crate) fn detach<T, F>(py: Python<'_>, f: F) -> T
where
    F: Ungil + FnOnce() -> T,
    T: Ungil,
{
    let guard = ParkOnExit::arm();
    let result = py.detach(f);
    guard.disarm();
    result
}

/// `Python::attach(f)` for a thread that released the GIL inside mpssl (transport calls,
/// signal checks, the verify callback). A thread ended by the interpreter's exit, whether when
/// it takes the GIL or inside Python code `f` runs, parks instead of unwinding; the guard sits
/// inside the attached closure, so PyO3's release of the GIL never runs on that path.
pub(crate) fn attach<F, R>(f: F) -> R
where
    F: for<'py> FnOnce(Python<'py>) -> R,
{
    let outer = ParkOnExit::arm();
    let result = Python::attach(|py| {
        let inner = ParkOnExit::arm();
        let result = f(py);
        inner.disarm();
        result
    });
    outer.disarm();
    result
}

/// The limited-API calls, declared `C-unwind`: CPython may `pthread_exit` from inside them.
mod raw {
    use pyo3::ffi::PyObject;

    extern "C-unwind" {
        pub(super) fn PyObject_CallMethodObjArgs(
            obj: *mut PyObject,
            name: *mut PyObject,
            ...
        ) -> *mut PyObject;
        pub(super) fn PyObject_CallFunctionObjArgs(callable: *mut PyObject, ...) -> *mut PyObject;
    }
}

/// Turn a call's result (a new reference, or NULL with an exception set) into a `PyResult`.
fn owned<'py>(py: Python<'py>, ret: *mut PyObject) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: `ret` comes straight from a CPython call that returns a new (owned) reference,
    // or NULL with the error indicator set, which `from_owned_ptr_or_err` fetches; the GIL is
    // held (`py`).
    unsafe { Bound::from_owned_ptr_or_err(py, ret) }
}

/// `obj.name()`, through a `C-unwind` call with the exit guard innermost.
pub(crate) fn call_method0<'py>(
    obj: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
) -> PyResult<Bound<'py, PyAny>> {
    let guard = ParkOnExit::arm();
    // SAFETY: the GIL is held (the `Bound`s prove it); `obj` and `name` are valid borrowed
    // references that outlive the call (the caller's `Bound`s own them); the argument list is
    // terminated by NULL as the function requires, and every variadic argument is a
    // `PyObject*`.
    let ret = unsafe {
        raw::PyObject_CallMethodObjArgs(obj.as_ptr(), name.as_ptr(), ptr::null_mut::<PyObject>())
    };
    guard.disarm();
    owned(obj.py(), ret)
}

/// `obj.name(arg)`, through a `C-unwind` call with the exit guard innermost.
pub(crate) fn call_method1<'py>(
    obj: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
    arg: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let guard = ParkOnExit::arm();
    // SAFETY: as in `call_method0`; `arg` is a valid borrowed reference for the whole call.
    let ret = unsafe {
        raw::PyObject_CallMethodObjArgs(
            obj.as_ptr(),
            name.as_ptr(),
            arg.as_ptr(),
            ptr::null_mut::<PyObject>(),
        )
    };
    guard.disarm();
    owned(obj.py(), ret)
}

/// `callable(a, b)`, through a `C-unwind` call with the exit guard innermost.
pub(crate) fn call2<'py>(
    callable: &Bound<'py, PyAny>,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let guard = ParkOnExit::arm();
    // SAFETY: the GIL is held; `callable`, `a` and `b` are valid borrowed references for the
    // whole call; the argument list is NULL-terminated and holds only `PyObject*`.
    let ret = unsafe {
        raw::PyObject_CallFunctionObjArgs(
            callable.as_ptr(),
            a.as_ptr(),
            b.as_ptr(),
            ptr::null_mut::<PyObject>(),
        )
    };
    guard.disarm();
    owned(callable.py(), ret)
}

/// `callable(a, b, c)`, through a `C-unwind` call with the exit guard innermost.
pub(crate) fn call3<'py>(
    callable: &Bound<'py, PyAny>,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
    c: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let guard = ParkOnExit::arm();
    // SAFETY: the GIL is held; `callable`, `a`, `b` and `c` are valid borrowed references for
    // the whole call; the argument list is NULL-terminated and holds only `PyObject*`.
    let ret = unsafe {
        raw::PyObject_CallFunctionObjArgs(
            callable.as_ptr(),
            a.as_ptr(),
            b.as_ptr(),
            c.as_ptr(),
            ptr::null_mut::<PyObject>(),
        )
    };
    guard.disarm();
    owned(callable.py(), ret)
}

#[cfg(test)]
mod tests {
    use super::ParkOnExit;

    /// A Rust panic is not a forced unwind: the guard lets it through (PyO3 turns it into
    /// `PanicException`) instead of parking the thread.
    /// (Without the `panicking()` check the helper thread parks and the wait times out.)
    #[test]
    fn a_rust_panic_passes_the_guard() {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let caught = std::panic::catch_unwind(|| {
                let _guard = ParkOnExit::arm();
                panic!("a bug, not an exit");
            });
            let _ = tx.send(caught.is_err());
        });
        let caught = rx.recv_timeout(std::time::Duration::from_secs(10));
        assert_eq!(
            caught.ok(),
            Some(true),
            "the guard parked a panicking thread"
        );
    }

    /// A disarmed guard does nothing.
    #[test]
    fn a_disarmed_guard_returns() {
        let guard = ParkOnExit::arm();
        guard.disarm();
    }
}
