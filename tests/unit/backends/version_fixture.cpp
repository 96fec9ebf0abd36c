// Libraries that are not usable backends, for the loader's refusals. Built
// several times with different definitions (tests/unit/CMakeLists.txt):
//   REPORTED_MAJOR, REPORTED_MINOR  what surge_backend_api_version reports
//   CALLS_NEWER_FUNCTION            references a server function no server
//                                   provides, as a backend built for a newer
//                                   minor might
//   EXPORTS_ALL_BUT_EXECUTE         the required exports except
//                                   surge_instance_execute
#include <surge/backend.h>

extern "C" SURGE_BACKEND_EXPORT void surge_backend_api_version(uint32_t* major, uint32_t* minor) {
  *major = REPORTED_MAJOR;
  *minor = REPORTED_MINOR;
}

#ifdef CALLS_NEWER_FUNCTION
extern "C" SURGE_SERVER_API uint32_t surge_request_future_accessor(const surge_request* request);
extern "C" SURGE_BACKEND_EXPORT uint32_t fixture_uses_the_newer_function(const surge_request* request) {
  return surge_request_future_accessor(request);
}
#endif

#ifdef EXPORTS_ALL_BUT_EXECUTE
extern "C" SURGE_BACKEND_EXPORT surge_error* surge_model_create(surge_model_info*, surge_model** model) {
  *model = nullptr;
  return surge_error_new(SURGE_ERROR_UNSUPPORTED, "a fixture loads no model");
}
extern "C" SURGE_BACKEND_EXPORT void surge_model_delete(surge_model*) {}
extern "C" SURGE_BACKEND_EXPORT surge_error* surge_instance_create(surge_model*, uint32_t, surge_instance** instance) {
  *instance = nullptr;
  return surge_error_new(SURGE_ERROR_UNSUPPORTED, "a fixture has no instances");
}
extern "C" SURGE_BACKEND_EXPORT void surge_instance_delete(surge_instance*) {}
#endif
