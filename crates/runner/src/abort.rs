//! The run's first fatal error, and the guard that turns a stage's error or panic into it.
//!
//! Every thread of a run checks [`Abort::is_set`] between batches and winds down once it is set;
//! the error kept is the first one set, so the run reports the cause, not its echoes.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use millstone_core::StageError;

use crate::error::Error;

/// The first fatal error of a run, or an interruption.
#[derive(Default)]
pub(crate) struct Abort {
    flag: AtomicBool,
    interrupted: AtomicBool,
    error: Mutex<Option<Error>>,
}

impl Abort {
    /// Tells every thread to stop because the user interrupted the run (no error of its own).
    pub(crate) fn interrupt(&self) {
        self.interrupted.store(true, Ordering::SeqCst);
        self.flag.store(true, Ordering::SeqCst);
    }

    pub(crate) fn was_interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    /// Records `error` unless an earlier one is recorded, and tells every thread to stop.
    pub(crate) fn set(&self, error: Error) {
        let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(error);
        }
        self.flag.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_set(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    pub(crate) fn take(&self) -> Option<Error> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// Runs one call into a sequential stage (barrier or sink). An error or a panic becomes the run's
/// fatal error, named after `stage_id`, and `None` is returned.
pub(crate) fn guarded<T>(
    abort: &Abort,
    stage_id: &str,
    call: impl FnOnce() -> Result<T, StageError>,
) -> Option<T> {
    let error = match catch_unwind(AssertUnwindSafe(call)) {
        Ok(Ok(value)) => return Some(value),
        Ok(Err(error)) => error,
        Err(payload) => StageError::Panicked(panic_message(&*payload)),
    };
    abort.set(Error::Stage { stage: stage_id.to_string(), error });
    None
}
