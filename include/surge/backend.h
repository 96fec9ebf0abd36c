/* surge backend C ABI, version 2.
 *
 * A backend is a shared library (libsurge_backend_<name>.so). It EXPORTS the
 * functions marked SURGE_BACKEND_EXPORT below and CALLS the functions marked
 * SURGE_SERVER_API, which the server exports (its executable is linked with
 * -rdynamic) and the dynamic linker resolves when the server dlopens the
 * backend. A backend links nothing of the server and leaves those symbols
 * undefined; loaded into a program that does not export them, dlopen fails.
 *
 * Everything the server hands a backend is an opaque handle read through
 * accessor functions, never a struct, so the ABI grows by adding functions
 * (a minor version) without changing anything a built backend relies on.
 *
 * Version negotiation: the server calls surge_backend_api_version() first and
 * refuses a library whose major differs from SURGE_BACKEND_API_MAJOR or whose
 * minor is newer than the server's. A backend built against a newer minor
 * that calls a server function this server lacks already fails at dlopen,
 * with the missing symbol named in the error.
 *
 * Minor history. This block is the one place minor versions are assigned:
 * a change that adds a function or a flag takes the next minor here, with a
 * line saying what it added; nothing is ever removed or renumbered within a
 * major.
 *   2.0  opaque handles and accessors for model info, requests, inputs,
 *        responses; server-owned errors; memory type and device id on every
 *        buffer; execute receives the batch's requests and answers each one;
 *        per-request parameters and cancellation; capabilities (short
 *        execute, decoupled, sequence); optional backend initialize /
 *        finalize, config auto-complete, model statistics; the generation
 *        sub-ABI with an extensible generation info.
 *
 * Ownership, stated once and repeated per function:
 *  - Handles the server passes in (surge_backend, surge_model_info,
 *    surge_request, surge_input, surge_statistics, surge_generation_info) are
 *    borrowed; each function says how long they stay valid.
 *  - Strings and arrays returned by accessors are borrowed from the handle
 *    they were read from and live as long as it does. Accessors never
 *    allocate.
 *  - A surge_error* is created by surge_error_new() and owned by whoever holds
 *    it: a server function that returns one gives it to the backend, which
 *    releases it with surge_error_delete() or passes it on; a backend function
 *    that returns one gives it to the server. NULL means success.
 *  - surge_model and surge_instance are the backend's; the server releases
 *    them with surge_model_delete / surge_instance_delete.
 *  - A surge_response is created by surge_response_new() and owned by the
 *    backend until surge_response_send() (which takes it) or
 *    surge_response_delete().
 *  - Output buffers are allocated by the server (surge_response_output) and
 *    written by the backend; the backend never frees them.
 *
 * Threading:
 *  - surge_backend_initialize/finalize, surge_model_autocomplete,
 *    surge_model_create/delete and surge_instance_create/delete run on a
 *    loader thread, never on an I/O thread.
 *  - Each instance is executed by one thread at a time; different instances
 *    of one model may execute concurrently.
 *  - surge_model_statistics and the surge_generation_tokenize/detokenize
 *    functions may be called concurrently with anything else.
 *  - Server functions may be called from any thread, except that the
 *    responses of one request are sent one at a time.
 */
#ifndef SURGE_BACKEND_H
#define SURGE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SURGE_BACKEND_API_MAJOR 2
#define SURGE_BACKEND_API_MINOR 0

#if defined(__GNUC__)
/* Defined by the backend, looked up by the server with dlsym. */
#define SURGE_BACKEND_EXPORT __attribute__((visibility("default")))
/* Defined by the server, called by the backend. Default visibility even in a
 * backend built with -fvisibility=hidden, so the reference stays undefined
 * and is bound to the server's definition at dlopen. */
#define SURGE_SERVER_API __attribute__((visibility("default")))
#else
#define SURGE_BACKEND_EXPORT
#define SURGE_SERVER_API
#endif

/* ---- values --------------------------------------------------------------
 * Enumerator values and flag bits are part of the ABI: never renumbered. */

/* Tensor element types. */
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

/* Where a buffer lives. The server hands out and allocates CPU memory only
 * today; the type and device id travel with every buffer so that GPU memory
 * fits without another major version. */
typedef enum surge_memory_type {
  SURGE_MEMORY_CPU = 0,
  SURGE_MEMORY_CPU_PINNED = 1,
  SURGE_MEMORY_GPU = 2
} surge_memory_type;

/* What a model declares about itself during surge_model_create. */
/* execute is short and never blocks (no I/O, no sleeping, no waiting). */
#define SURGE_CAPABILITY_SHORT_EXECUTE ((uint64_t)1 << 0)
/* Responses may be sent after execute returns, from any thread, and a request
 * may get several before its final one. Requires
 * model_transaction_policy { decoupled: true } in the model's config. */
#define SURGE_CAPABILITY_DECOUPLED ((uint64_t)1 << 1)
/* The model keeps state across the requests of a sequence. Its config must
 * have sequence_batching; the server then runs each sequence's requests in
 * order, one at a time, and gives every request these parameters
 * (surge_request_parameter): "sequence_id" (the client's correlation id, a
 * decimal integer or a string), "sequence_start" and "sequence_end"
 * ("true"/"false", when the client set them) and "sequence_slot" (a decimal
 * 0..slots-1: the slot the sequence holds while it is live; a new sequence
 * on a slot always starts with sequence_start, so state kept per slot never
 * leaks between sequences). Tensors named by the config's control_input
 * arrive as inputs. */
#define SURGE_CAPABILITY_SEQUENCE ((uint64_t)1 << 2)

/* surge_response_send flags. */
#define SURGE_RESPONSE_FINAL ((uint32_t)1 << 0)

/* Opaque, owned by the server. */
typedef struct surge_error surge_error;
typedef struct surge_backend surge_backend;
typedef struct surge_model_info surge_model_info;
typedef struct surge_tensor_spec surge_tensor_spec;
typedef struct surge_request surge_request;
typedef struct surge_input surge_input;
typedef struct surge_response surge_response;
typedef struct surge_statistics surge_statistics;
typedef struct surge_generation_info surge_generation_info;

/* Opaque, owned by the backend. */
typedef struct surge_model surge_model;
typedef struct surge_instance surge_instance;

/* ---- errors (server) ------------------------------------------------------ */

/* A new error owned by the caller. message is copied; NULL reads as "".
 * Never returns NULL (when memory runs out it returns a shared error that
 * surge_error_delete knows not to free). */
SURGE_SERVER_API surge_error* surge_error_new(surge_error_code code, const char* message);
SURGE_SERVER_API surge_error_code surge_error_code_of(const surge_error* error);
/* Borrowed from the error; lives as long as it does. */
SURGE_SERVER_API const char* surge_error_message(const surge_error* error);
/* Releases an error. NULL is a no-op. */
SURGE_SERVER_API void surge_error_delete(surge_error* error);

/* ---- backend (server) -----------------------------------------------------
 * One per loaded library, valid from surge_backend_initialize until
 * surge_backend_finalize returns. */

SURGE_SERVER_API const char* surge_backend_name(const surge_backend* backend);
/* The directory the library was loaded from. */
SURGE_SERVER_API const char* surge_backend_directory(const surge_backend* backend);
/* One pointer of the backend's own, NULL until set; the server never reads it. */
SURGE_SERVER_API void surge_backend_set_state(surge_backend* backend, void* state);
SURGE_SERVER_API void* surge_backend_state(const surge_backend* backend);

/* ---- model info (server) --------------------------------------------------
 * What surge_model_create and surge_model_autocomplete receive; valid for
 * that call only. Indexes run from 0 to count - 1; an accessor given an index
 * or key that does not exist returns NULL (or 0). */

SURGE_SERVER_API surge_backend* surge_model_info_backend(const surge_model_info* info);
SURGE_SERVER_API const char* surge_model_info_name(const surge_model_info* info);
SURGE_SERVER_API int64_t surge_model_info_version(const surge_model_info* info);
/* <repository>/<model>/<version> */
SURGE_SERVER_API const char* surge_model_info_version_directory(const surge_model_info* info);
/* 0: the model does not batch (or, during autocomplete, the config did not say). */
SURGE_SERVER_API uint32_t surge_model_info_max_batch_size(const surge_model_info* info);
/* The config's default_model_filename; "" when unset. */
SURGE_SERVER_API const char* surge_model_info_default_model_filename(const surge_model_info* info);

SURGE_SERVER_API uint32_t surge_model_info_input_count(const surge_model_info* info);
SURGE_SERVER_API const surge_tensor_spec* surge_model_info_input(const surge_model_info* info, uint32_t index);
SURGE_SERVER_API uint32_t surge_model_info_output_count(const surge_model_info* info);
SURGE_SERVER_API const surge_tensor_spec* surge_model_info_output(const surge_model_info* info, uint32_t index);

/* A declared input or output, borrowed from the model info. dims exclude the
 * batch dimension when max_batch_size > 0; -1 marks a variable dimension. */
SURGE_SERVER_API const char* surge_tensor_spec_name(const surge_tensor_spec* spec);
SURGE_SERVER_API surge_data_type surge_tensor_spec_datatype(const surge_tensor_spec* spec);
SURGE_SERVER_API const int64_t* surge_tensor_spec_dims(const surge_tensor_spec* spec, uint32_t* rank);

/* The config's parameters (string values). */
SURGE_SERVER_API uint32_t surge_model_info_parameter_count(const surge_model_info* info);
SURGE_SERVER_API const char* surge_model_info_parameter_key(const surge_model_info* info, uint32_t index);
SURGE_SERVER_API const char* surge_model_info_parameter_value(const surge_model_info* info, uint32_t index);
/* NULL when the config has no such parameter. */
SURGE_SERVER_API const char* surge_model_info_parameter(const surge_model_info* info, const char* key);

/* During surge_model_create only: the SURGE_CAPABILITY_* flags of the model.
 * Unknown bits and DECOUPLED on a model whose config is not decoupled are
 * refused. Calling it again replaces the flags. */
SURGE_SERVER_API surge_error* surge_model_info_set_capabilities(surge_model_info* info, uint64_t flags);

/* During surge_model_autocomplete only: fill in what the config left out.
 * The config wins: adding a tensor whose name the config already declares,
 * or setting max_batch_size when the config gives one, is refused. dims are
 * copied and exclude the batch dimension. */
SURGE_SERVER_API surge_error* surge_model_info_add_input(surge_model_info* info, const char* name,
                                                         surge_data_type datatype, const int64_t* dims,
                                                         uint32_t rank);
SURGE_SERVER_API surge_error* surge_model_info_add_output(surge_model_info* info, const char* name,
                                                          surge_data_type datatype, const int64_t* dims,
                                                          uint32_t rank);
SURGE_SERVER_API surge_error* surge_model_info_set_max_batch_size(surge_model_info* info, uint32_t max_batch_size);

/* ---- requests and inputs (server) -----------------------------------------
 * A request handle is valid from the start of the surge_instance_execute that
 * receives it until its final response is sent; for a model without the
 * DECOUPLED capability, at the latest until that execute returns. Input
 * handles live as long as their request. */

/* The client's request id; "" when it gave none. */
SURGE_SERVER_API const char* surge_request_id(const surge_request* request);
SURGE_SERVER_API uint32_t surge_request_input_count(const surge_request* request);
SURGE_SERVER_API const surge_input* surge_request_input(const surge_request* request, uint32_t index);
/* NULL when the request has no input of that name. */
SURGE_SERVER_API const surge_input* surge_request_input_by_name(const surge_request* request, const char* name);
/* The outputs the client asked for; 0 means every output of the model. The
 * server hands the client only those, in its order, whatever the backend
 * computes, so a backend may ignore this and produce every output. */
SURGE_SERVER_API uint32_t surge_request_output_count(const surge_request* request);
SURGE_SERVER_API const char* surge_request_output_name(const surge_request* request, uint32_t index);
/* The request's own parameters (KServe "parameters"), values as strings:
 * "true"/"false" for booleans, decimal for numbers. */
SURGE_SERVER_API uint32_t surge_request_parameter_count(const surge_request* request);
SURGE_SERVER_API const char* surge_request_parameter_key(const surge_request* request, uint32_t index);
SURGE_SERVER_API const char* surge_request_parameter_value(const surge_request* request, uint32_t index);
/* NULL when the request has no such parameter. */
SURGE_SERVER_API const char* surge_request_parameter(const surge_request* request, const char* key);
/* Whether the client has gone away; a long execute may poll it and stop
 * early (answering the request with any error: nobody reads it). */
SURGE_SERVER_API surge_error* surge_request_is_cancelled(const surge_request* request, bool* cancelled);

SURGE_SERVER_API const char* surge_input_name(const surge_input* input);
SURGE_SERVER_API surge_data_type surge_input_datatype(const surge_input* input);
/* With the batch dimension when the model batches. */
SURGE_SERVER_API const int64_t* surge_input_shape(const surge_input* input, uint32_t* rank);
/* Total over all buffers; for BYTES it covers every length prefix. */
SURGE_SERVER_API uint64_t surge_input_byte_size(const surge_input* input);
/* The input's bytes may come in several buffers, to be read in order. */
SURGE_SERVER_API uint32_t surge_input_buffer_count(const surge_input* input);
/* Buffer `index`: read-only, borrowed, with no alignment guarantee (request
 * bodies put tensors wherever they fall). Fails for an index out of range. */
SURGE_SERVER_API surge_error* surge_input_buffer(const surge_input* input, uint32_t index, const void** data,
                                                 uint64_t* byte_size, surge_memory_type* memory_type,
                                                 int64_t* device_id);

/* ---- responses (server) ---------------------------------------------------- */

/* A new, empty response to `request`, owned by the backend until sent or
 * deleted. */
SURGE_SERVER_API surge_error* surge_response_new(surge_response** response, surge_request* request);

/* Allocates output `name` in the response and returns its buffer in *buffer:
 * byte_size bytes, writable, owned by the server, valid until the response is
 * sent or deleted. shape is copied and includes the batch dimension when the
 * model batches. *memory_type and *device_id say where the backend would
 * like the buffer and are set to where it is (today always CPU, device 0).
 * Refused, with an error naming the output, when the model declares no such
 * output, the response already has it, or the type, shape or byte size
 * contradict the declaration. */
SURGE_SERVER_API surge_error* surge_response_output(surge_response* response, const char* name,
                                                    surge_data_type datatype, const int64_t* shape, uint32_t rank,
                                                    uint64_t byte_size, surge_memory_type* memory_type,
                                                    int64_t* device_id, void** buffer);

/* Sends the response and takes ownership of it and of `error` (NULL: none).
 * With an error the request is answered with that error, the response's
 * outputs are dropped, and the request is closed whatever the flags; the
 * other requests of the batch are unaffected. Without an error the client
 * gets the outputs it asked for, in its order; for a model without the
 * DECOUPLED capability, one it asked for (every declared output when it
 * named none) that the response lacks answers the request with an internal
 * error naming it instead. Without the DECOUPLED
 * capability a request gets exactly one response, sent with
 * SURGE_RESPONSE_FINAL before execute returns. A decoupled model may send
 * several; one without outputs, sent with SURGE_RESPONSE_FINAL, only closes
 * the request. Returns an error (and still releases what it took) when the
 * request is already closed, or a non-decoupled response lacks
 * SURGE_RESPONSE_FINAL (the request then stays open). */
SURGE_SERVER_API surge_error* surge_response_send(surge_response* response, uint32_t flags, surge_error* error);

/* Releases a response that will not be sent; its request stays open. */
SURGE_SERVER_API void surge_response_delete(surge_response* response);

/* ---- statistics (server) --------------------------------------------------- */

/* Adds one named value to what surge_model_statistics reports; name is
 * copied. Shown in /metrics as surge_backend_statistic{model,version,name}. */
SURGE_SERVER_API surge_error* surge_statistics_add(surge_statistics* statistics, const char* name, double value);

/* ---- required backend exports ---------------------------------------------- */

/* The ABI version the backend was built against: SURGE_BACKEND_API_MAJOR and
 * SURGE_BACKEND_API_MINOR of the header it included. Called first. */
SURGE_BACKEND_EXPORT void surge_backend_api_version(uint32_t* major, uint32_t* minor);

/* Loads a model. info is borrowed for the call. On success *model is owned
 * by the server (released with surge_model_delete). On failure returns an
 * error naming the problem (missing file, unsupported parameter) and leaves
 * *model NULL. Declare capabilities here with
 * surge_model_info_set_capabilities. */
SURGE_BACKEND_EXPORT surge_error* surge_model_create(surge_model_info* info, surge_model** model);
SURGE_BACKEND_EXPORT void surge_model_delete(surge_model* model);

/* Creates execution instance `index` of a model. The model outlives it. */
SURGE_BACKEND_EXPORT surge_error* surge_instance_create(surge_model* model, uint32_t index,
                                                        surge_instance** instance);
/* A decoupled backend sends the final response of every request the
 * instance executed before this returns; requests still open afterwards are
 * answered by the server with an error and their handles die. */
SURGE_BACKEND_EXPORT void surge_instance_delete(surge_instance* instance);

/* Runs one batch: `requests[0..request_count)` are the batch's requests, in
 * the order they were admitted, each with its own inputs (never
 * concatenated), parameters and requested outputs. The array is borrowed for
 * the call; the requests live as stated above. The backend answers each
 * request through surge_response_new / surge_response_send. Returning an
 * error fails every request of the batch not yet answered (their handles die
 * with it); returning NULL without answering a request of a non-decoupled
 * model gets that request an internal error naming the backend. */
SURGE_BACKEND_EXPORT surge_error* surge_instance_execute(surge_instance* instance, surge_request** requests,
                                                         uint32_t request_count);

/* ---- optional backend exports (looked up with dlsym) ----------------------- */

/* Once per loaded library, before its first model is created. An error
 * refuses the library (and every model that asked for it). */
SURGE_BACKEND_EXPORT surge_error* surge_backend_initialize(surge_backend* backend);
/* Once, after the library's last model is deleted and before it is
 * unloaded. An error is logged; the library is unloaded anyway. */
SURGE_BACKEND_EXPORT surge_error* surge_backend_finalize(surge_backend* backend);

/* Config auto-complete: called before the model's config is validated, with
 * what the config says (perhaps no inputs, no outputs, no max_batch_size).
 * The backend may read its model file and fill in what is missing with the
 * surge_model_info_add_* / set_* functions; the server merges that into the
 * config, then validates it and creates the model from it. An error fails
 * the model's load. */
SURGE_BACKEND_EXPORT surge_error* surge_model_autocomplete(surge_model_info* info);

/* The model's own statistics (cache hits, memory in use, ...): the backend
 * adds one value per name with surge_statistics_add. Called when /metrics is
 * rendered, from any thread and concurrently with execute: read counters,
 * never block. */
SURGE_BACKEND_EXPORT surge_error* surge_model_statistics(surge_model* model, surge_statistics* statistics);

/* ---- generative models (optional) ------------------------------------------
 *
 * A generative backend keeps a key/value cache per instance, divided into
 * max_sequences slots. The server decides which sequence occupies which slot
 * (slot numbers are 0..max_sequences-1), when to prefill, which live
 * sequences to step together and when to release a slot; the backend only
 * computes. Sampling happens in the server: the backend returns logits.
 * Tokenization is the backend's, because the tokenizer belongs to the model.
 * The server uses these functions when all six are exported; such a backend's
 * surge_instance_execute may answer SURGE_ERROR_UNSUPPORTED.
 */

typedef enum surge_generation_key {
  SURGE_GENERATION_MAX_SEQUENCES = 1, /* KV-cache slots of one instance (>= 1) */
  SURGE_GENERATION_MAX_CONTEXT = 2,   /* tokens one sequence may hold, prompt included (>= 2) */
  SURGE_GENERATION_VOCAB_SIZE = 3,    /* length of one logits row (>= 1) */
  SURGE_GENERATION_EOS_TOKEN = 4,     /* end-of-sequence token; -1 (the default): none */
  SURGE_GENERATION_BOS_TOKEN = 5      /* prepended to prompts by surge_generation_tokenize; -1: none */
} surge_generation_key;

/* Sets one generation limit (server). Fails for an unknown key or a value
 * out of range. */
SURGE_SERVER_API surge_error* surge_generation_info_set(surge_generation_info* info, surge_generation_key key,
                                                        int64_t value);

/* Describes the model's generation limits by calling surge_generation_info_set
 * for each key. info is borrowed for the call. */
SURGE_BACKEND_EXPORT surge_error* surge_generation_info_get(surge_model* model, surge_generation_info* info);

/* Text to token ids. Called on the sequence scheduler's step threads (one per
 * instance of the model), so calls may run concurrently: thread-safe. Writes
 * at most `capacity` ids to `tokens` and the total the text needs to *count;
 * when *count > capacity the caller retries with a larger buffer. text is
 * borrowed and not NUL-terminated. */
SURGE_BACKEND_EXPORT surge_error* surge_generation_tokenize(surge_model* model, const char* text, uint64_t length,
                                                            int32_t* tokens, uint32_t capacity, uint32_t* count);

/* Token ids to text (UTF-8), decoded as a whole so that pieces joining across
 * tokens come out right. Called like tokenize: thread-safe. Writes at most
 * `capacity` bytes and the total length to *length; when *length > capacity
 * the caller retries. */
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
