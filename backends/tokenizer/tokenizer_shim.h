/* C ABI of shim/ (Rust, over Hugging Face tokenizers). shim/src/lib.rs
 * defines these; the two change together.
 *
 * Ownership: a tokenizer from surge_tok_load is freed with surge_tok_free, a
 * batch from surge_tok_encode with surge_tok_batch_free, an error string with
 * surge_tok_string_free. No function unwinds into the caller: a panic in the
 * shim comes back as an error string. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct SurgeTokenizer surge_tok_tokenizer;
typedef struct SurgeTokBatch surge_tok_batch;

/* One input text: bytes that need not be UTF-8 (the shim checks). */
typedef struct {
  const uint8_t* data;
  size_t size;
} surge_tok_text;

/* One encoded row; the arrays live as long as their batch. invalid_utf8_at
 * is SIZE_MAX for a valid text, else the byte offset of its first invalid
 * sequence (the row then has length 0). */
typedef struct {
  const int64_t* ids;
  const int64_t* attention_mask;
  const int64_t* type_ids;
  size_t length;
  size_t invalid_utf8_at;
} surge_tok_row;

/* Loads a tokenizer.json with truncation to max_length tokens (special tokens
 * included) and no padding. NULL on failure, with *error set. */
surge_tok_tokenizer* surge_tok_load(const char* path, size_t max_length, char** error);
void surge_tok_free(surge_tok_tokenizer* tokenizer);

/* Encodes count texts with special tokens on the calling thread; safe to call
 * from several threads on one tokenizer. NULL on failure, with *error set. */
surge_tok_batch* surge_tok_encode(const surge_tok_tokenizer* tokenizer, const surge_tok_text* texts, size_t count,
                                  char** error);
/* Row `index`; all null and length 0 when out of range. */
surge_tok_row surge_tok_batch_row(const surge_tok_batch* batch, size_t index);
void surge_tok_batch_free(surge_tok_batch* batch);

void surge_tok_string_free(char* text);

#ifdef __cplusplus
}
#endif
