/* surge backend C ABI.
 *
 * A backend is a shared library (libsurge_backend_<name>.so) that exports the
 * functions declared below with C linkage. The server dlopens it, calls
 * surge_backend_api_version() first and refuses the library when the major
 * version differs or the backend's minor is newer than the server's.
 *
 * Ownership rules, stated once and repeated per function:
 *  - Anything a function takes as `const` is borrowed for the duration of the
 *    call only; copy what you need to keep.
 *  - A surge_error* returned by a backend function is owned by the caller, who
 *    releases it with surge_error_delete() of the same library. NULL means
 *    success.
 *  - Objects created by *_create are owned by the caller and released with the
 *    matching *_delete.
 *  - Output buffers are allocated by the server through the allocator passed to
 *    surge_instance_execute(); the backend writes into them and never frees them.
 *
 * Generative backends (minor 1) also export the surge_generation_* and
 * surge_sequence_* functions at the end of this file. They are optional: the
 * server looks them up and treats a backend without them as a tensor backend.
 *
 * Threading: surge_model_create/delete run on a loader thread. Each instance is
 * only ever called from its own execution thread, one call at a time; different
 * instances of one model may execute concurrently.
 */
#ifndef SURGE_BACKEND_H
#define SURGE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SURGE_BACKEND_API_MAJOR 1
#define SURGE_BACKEND_API_MINOR 1

#if defined(__GNUC__)
#define SURGE_BACKEND_EXPORT __attribute__((visibility("default")))
#else
#define SURGE_BACKEND_EXPORT
#endif

/* Tensor element types. Values are part of the ABI: never renumber. */
typedef enum surge_data_type {
  SURGE_TYPE_INVALID = 0,
  SURGE_TYPE_BOOL = 1,
  SURGE_TYPE_UINT8 = 2,
  SURGE_TYPE_UINT16 = 3,
  SURGE_TYPE_UINT32 = 4,
  SURGE_TYPE_UINT64 = 5,
  SURGE_TYPE_INT8 = 6,
  SURGE_TYPE_INT16 = 7,
  SURGE_TYPE_INT32 = 8,
  SURGE_TYPE_INT64 = 9,
  SURGE_TYPE_FP16 = 10,
  SURGE_TYPE_FP32 = 11,
  SURGE_TYPE_FP64 = 12,
  SURGE_TYPE_BYTES = 13, /* each element: uint32 little-endian length, then bytes */
  SURGE_TYPE_BF16 = 14
} surge_data_type;

typedef enum surge_error_code {
  SURGE_ERROR_INVALID_ARGUMENT = 1, /* the request's data is unusable: answered 400 */
  SURGE_ERROR_INTERNAL = 2,         /* the backend failed: answered 500 */
  SURGE_ERROR_UNAVAILABLE = 3,      /* transient: answered 503 */
  SURGE_ERROR_UNSUPPORTED = 4       /* a configuration the backend cannot serve */
} surge_error_code;

/* Opaque, created by the backend. */
typedef struct surge_error surge_error;
typedef struct surge_model surge_model;
typedef struct surge_instance surge_instance;

/* A borrowed tensor view. For BYTES, byte_size covers all length prefixes. */
typedef struct surge_tensor {
  const char* name;
  surge_data_type data_type;
  const int64_t* shape;
  uint32_t rank;
  const void* data;
  uint64_t byte_size;
} surge_tensor;

typedef struct surge_parameter {
  const char* key;
  const char* value;
} surge_parameter;

/* Declared tensor of the model configuration. dims exclude the batch
 * dimension when max_batch_size > 0; -1 marks a variable dimension. */
typedef struct surge_tensor_spec {
  const char* name;
  surge_data_type data_type;
  const int64_t* dims;
  uint32_t rank;
} surge_tensor_spec;

/* Everything a backend learns about the model it loads. All borrowed. */
typedef struct surge_model_spec {
  const char* model_name;
  int64_t model_version;
  const char* version_directory; /* <repository>/<model>/<version> */
  uint32_t max_batch_size;       /* 0: the model does not batch */
  const surge_tensor_spec* inputs;
  uint32_t input_count;
  const surge_tensor_spec* outputs;
  uint32_t output_count;
  const surge_parameter* parameters;
  uint32_t parameter_count;
  const char* default_model_filename; /* may be "" */
} surge_model_spec;

/* Server-provided output allocator. The backend calls it once per output; it
 * returns a writable buffer of byte_size bytes owned by the server, or NULL
 * when the server refuses (unknown name, size mismatch), in which case the
 * backend returns an error. shape is borrowed. */
typedef void* (*surge_output_allocator)(void* context, const char* name, surge_data_type data_type,
                                        const int64_t* shape, uint32_t rank, uint64_t byte_size);

/* Returns the ABI version the backend was built against. */
SURGE_BACKEND_EXPORT void surge_backend_api_version(uint32_t* major, uint32_t* minor);

/* Error accessors. `error` is borrowed; the message lives as long as the error. */
SURGE_BACKEND_EXPORT surge_error_code surge_error_code_of(const surge_error* error);
SURGE_BACKEND_EXPORT const char* surge_error_message(const surge_error* error);
/* Releases an error returned by this library. NULL is a no-op. */
SURGE_BACKEND_EXPORT void surge_error_delete(surge_error* error);

/* Loads a model. spec is borrowed. On success *model is owned by the caller
 * (release with surge_model_delete). On failure returns an error naming the
 * problem (missing file, unsupported parameter) and leaves *model NULL. */
SURGE_BACKEND_EXPORT surge_error* surge_model_create(const surge_model_spec* spec, surge_model** model);
SURGE_BACKEND_EXPORT void surge_model_delete(surge_model* model);

/* Creates execution instance `index` of a model. The model must outlive it. */
SURGE_BACKEND_EXPORT surge_error* surge_instance_create(surge_model* model, uint32_t index,
                                                        surge_instance** instance);
SURGE_BACKEND_EXPORT void surge_instance_delete(surge_instance* instance);

/* Runs one batch. inputs are borrowed and already concatenated along dim 0
 * (the batch dimension) when the model batches. The backend allocates every
 * output through `allocate(allocator_context, ...)`. Returns NULL on success. */
SURGE_BACKEND_EXPORT surge_error* surge_instance_execute(surge_instance* instance, const surge_tensor* inputs,
                                                         uint32_t input_count, surge_output_allocator allocate,
                                                         void* allocator_context);

/* ---- Generative models (ABI 1.1, optional) ----------------------------
 *
 * A generative backend keeps a key/value cache per instance, divided into
 * max_sequences slots. The server decides which sequence occupies which slot
 * (slot numbers are 0..max_sequences-1), when to prefill, which live
 * sequences to step together and when to release a slot; the backend only
 * computes. Sampling happens in the server: the backend returns logits.
 * Tokenization is the backend's, because the tokenizer belongs to the model.
 */

typedef struct surge_generation_info {
  uint32_t max_sequences; /* KV-cache slots of one instance */
  uint32_t max_context;   /* tokens one sequence may hold, prompt included */
  uint32_t vocab_size;    /* length of one logits row */
  int32_t eos_token;      /* end-of-sequence token, or -1 when the model has none */
  int32_t bos_token;      /* prepended to prompts by surge_generation_tokenize, or -1 */
} surge_generation_info;

/* Describes the model's generation limits. info is written by the backend. */
SURGE_BACKEND_EXPORT surge_error* surge_generation_info_get(surge_model* model, surge_generation_info* info);

/* Text to token ids. Thread-safe: called from I/O threads of the server.
 * Writes at most `capacity` ids to `tokens` and the total the text needs to
 * *count; when *count > capacity the caller retries with a larger buffer.
 * text is borrowed and not NUL-terminated. */
SURGE_BACKEND_EXPORT surge_error* surge_generation_tokenize(surge_model* model, const char* text, uint64_t length,
                                                            int32_t* tokens, uint32_t capacity, uint32_t* count);

/* Token ids to text (UTF-8), decoded as a whole so that pieces joining across
 * tokens come out right. Thread-safe. Writes at most `capacity` bytes and the
 * total length to *length; when *length > capacity the caller retries. */
SURGE_BACKEND_EXPORT surge_error* surge_generation_detokenize(surge_model* model, const int32_t* tokens,
                                                              uint32_t count, char* text, uint64_t capacity,
                                                              uint64_t* length);

/* Fills slot `slot` with the key/value entries of `count` tokens (positions
 * 0..count-1; whatever the slot held before is discarded) and writes the
 * logits that predict the next token to logits[0..vocab_size). All pointers
 * are borrowed. An error fails this sequence only. */
SURGE_BACKEND_EXPORT surge_error* surge_sequence_prefill(surge_instance* instance, uint32_t slot,
                                                         const int32_t* tokens, uint32_t count, float* logits);

/* Advances `count` live sequences by one token each: sequence i sits in
 * slots[i], already holds positions[i] tokens, and is fed tokens[i] at that
 * position. Writes logits row i to logits[i*vocab_size ..). An error fails
 * every sequence of the step. */
SURGE_BACKEND_EXPORT surge_error* surge_sequence_step(surge_instance* instance, const uint32_t* slots,
                                                      const int32_t* tokens, const uint32_t* positions,
                                                      uint32_t count, float* logits);

/* The slot's sequence is finished, cancelled or preempted; the slot may be
 * reused by the next prefill. Never fails. */
SURGE_BACKEND_EXPORT void surge_sequence_release(surge_instance* instance, uint32_t slot);

#ifdef __cplusplus
}
#endif

#endif /* SURGE_BACKEND_H */
