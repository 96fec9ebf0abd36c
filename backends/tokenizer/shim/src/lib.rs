//! C ABI over Hugging Face `tokenizers` for the surge `tokenizer` backend.
//! The declarations the C++ side uses are in ../tokenizer_shim.h; the two
//! files change together.
//!
//! Every function catches panics: an unwinding panic must never cross into
//! C++, so each one ends as an error string instead.

use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use tokenizers::{Encoding, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

/// A loaded tokenizer with the server's truncation and no padding: the
/// backend pads each request to its own longest row.
pub struct SurgeTokenizer {
    tokenizer: Tokenizer,
}

/// One input text, as bytes that may or may not be UTF-8.
#[repr(C)]
pub struct SurgeTokText {
    pub data: *const u8,
    pub size: usize,
}

/// One encoded row. The arrays stay valid until the batch is freed.
/// `invalid_utf8_at` is `usize::MAX` for a valid text, else the byte offset
/// of its first invalid sequence (and `length` is 0).
#[repr(C)]
pub struct SurgeTokRow {
    pub ids: *const i64,
    pub attention_mask: *const i64,
    pub type_ids: *const i64,
    pub length: usize,
    pub invalid_utf8_at: usize,
}

struct Row {
    ids: Vec<i64>,
    attention_mask: Vec<i64>,
    type_ids: Vec<i64>,
    invalid_utf8_at: usize,
}

/// The encodings of one call, one row per text in the order given.
pub struct SurgeTokBatch {
    rows: Vec<Row>,
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        format!("tokenizer panicked: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("tokenizer panicked: {s}")
    } else {
        "tokenizer panicked".to_string()
    }
}

/// Stores `message` in `*error` (when `error` is not null) as a string the
/// caller frees with `surge_tok_string_free`.
unsafe fn set_error(error: *mut *mut c_char, message: String) {
    if error.is_null() {
        return;
    }
    let clean: String = message
        .chars()
        .map(|c| if c == '\0' { ' ' } else { c })
        .collect();
    *error = CString::new(clean)
        .map(CString::into_raw)
        .unwrap_or(ptr::null_mut());
}

fn to_i64(values: &[u32]) -> Vec<i64> {
    values.iter().map(|&v| i64::from(v)).collect()
}

fn row_of(encoding: &Encoding) -> Row {
    Row {
        ids: to_i64(encoding.get_ids()),
        attention_mask: to_i64(encoding.get_attention_mask()),
        type_ids: to_i64(encoding.get_type_ids()),
        invalid_utf8_at: usize::MAX,
    }
}

fn load(path: &str, max_length: usize) -> Result<Tokenizer, String> {
    let mut tokenizer = Tokenizer::from_file(path).map_err(|e| e.to_string())?;
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length,
            strategy: TruncationStrategy::LongestFirst,
            stride: 0,
            direction: TruncationDirection::Right,
        }))
        .map_err(|e| e.to_string())?;
    Ok(tokenizer)
}

/// Loads a tokenizer.json. Returns null on failure with `*error` set.
/// `max_length` counts the special tokens too.
///
/// # Safety
/// `path` is a NUL-terminated string; `error` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn surge_tok_load(
    path: *const c_char,
    max_length: usize,
    error: *mut *mut c_char,
) -> *mut SurgeTokenizer {
    if !error.is_null() {
        *error = ptr::null_mut();
    }
    let result = catch_unwind(|| {
        if path.is_null() {
            return Err("no tokenizer path given".to_string());
        }
        let path = CStr::from_ptr(path)
            .to_str()
            .map_err(|_| "tokenizer path is not UTF-8".to_string())?;
        if max_length == 0 {
            return Err("max_length must be at least 1".to_string());
        }
        load(path, max_length)
    });
    match result {
        Ok(Ok(tokenizer)) => Box::into_raw(Box::new(SurgeTokenizer { tokenizer })),
        Ok(Err(message)) => {
            set_error(error, message);
            ptr::null_mut()
        }
        Err(payload) => {
            set_error(error, panic_message(payload));
            ptr::null_mut()
        }
    }
}

/// # Safety
/// `tokenizer` is null or came from `surge_tok_load` and is not used again.
#[no_mangle]
pub unsafe extern "C" fn surge_tok_free(tokenizer: *mut SurgeTokenizer) {
    if !tokenizer.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(tokenizer))));
    }
}

/// Encodes `count` texts with special tokens and the load's truncation, on
/// the calling thread. Texts that are not UTF-8 get a row with
/// `invalid_utf8_at` set; the others are encoded all the same. Returns null
/// on failure with `*error` set. Safe to call from several threads at once
/// on one tokenizer.
///
/// # Safety
/// `tokenizer` came from `surge_tok_load`; `texts` points to `count` texts
/// whose bytes stay valid during the call; `error` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn surge_tok_encode(
    tokenizer: *const SurgeTokenizer,
    texts: *const SurgeTokText,
    count: usize,
    error: *mut *mut c_char,
) -> *mut SurgeTokBatch {
    if !error.is_null() {
        *error = ptr::null_mut();
    }
    let result = catch_unwind(AssertUnwindSafe(|| -> Result<SurgeTokBatch, String> {
        if tokenizer.is_null() {
            return Err("no tokenizer".to_string());
        }
        let tokenizer = &(*tokenizer).tokenizer;
        let texts: &[SurgeTokText] = if count == 0 {
            &[]
        } else {
            std::slice::from_raw_parts(texts, count)
        };
        let mut rows = Vec::with_capacity(count);
        for text in texts {
            let bytes: &[u8] = if text.size == 0 {
                &[]
            } else {
                std::slice::from_raw_parts(text.data, text.size)
            };
            match std::str::from_utf8(bytes) {
                Ok(s) => {
                    let encoding = tokenizer.encode_fast(s, true).map_err(|e| e.to_string())?;
                    rows.push(row_of(&encoding));
                }
                Err(e) => rows.push(Row {
                    ids: Vec::new(),
                    attention_mask: Vec::new(),
                    type_ids: Vec::new(),
                    invalid_utf8_at: e.valid_up_to(),
                }),
            }
        }
        Ok(SurgeTokBatch { rows })
    }));
    match result {
        Ok(Ok(batch)) => Box::into_raw(Box::new(batch)),
        Ok(Err(message)) => {
            set_error(error, message);
            ptr::null_mut()
        }
        Err(payload) => {
            set_error(error, panic_message(payload));
            ptr::null_mut()
        }
    }
}

/// Row `index` of a batch; an all-null row for an index out of range.
///
/// # Safety
/// `batch` came from `surge_tok_encode` and is not freed yet.
#[no_mangle]
pub unsafe extern "C" fn surge_tok_batch_row(
    batch: *const SurgeTokBatch,
    index: usize,
) -> SurgeTokRow {
    let empty = SurgeTokRow {
        ids: ptr::null(),
        attention_mask: ptr::null(),
        type_ids: ptr::null(),
        length: 0,
        invalid_utf8_at: usize::MAX,
    };
    if batch.is_null() {
        return empty;
    }
    let batch = &*batch;
    match batch.rows.get(index) {
        Some(row) => SurgeTokRow {
            ids: row.ids.as_ptr(),
            attention_mask: row.attention_mask.as_ptr(),
            type_ids: row.type_ids.as_ptr(),
            length: row.ids.len(),
            invalid_utf8_at: row.invalid_utf8_at,
        },
        None => empty,
    }
}

/// # Safety
/// `batch` is null or came from `surge_tok_encode` and is not used again.
#[no_mangle]
pub unsafe extern "C" fn surge_tok_batch_free(batch: *mut SurgeTokBatch) {
    if !batch.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(batch))));
    }
}

/// # Safety
/// `text` is null or an error string from this library, not used again.
#[no_mangle]
pub unsafe extern "C" fn surge_tok_string_free(text: *mut c_char) {
    if !text.is_null() {
        drop(CString::from_raw(text));
    }
}
