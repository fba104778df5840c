/* The service-wide calls: what HCS itself supports, and its settings. No handle, no operation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handles.h"
#include "json.h"
#include "text.h"

/* The documents podvisor sends are schema 2.1 (§6.7), and the simulator reads nothing else. */
#define BASIC_INFORMATION "{\"SupportedSchemaVersions\":[{\"Major\":2,\"Minor\":1}]}"

/* A failed service call answers with a ResultError document in `result`, as the operation-based calls do. */
static HRESULT refuse(PWSTR *result, HRESULT hr, const char *why) {
  char *doc = error_document(hr, why);
  *result = caller_string(doc);
  free(doc);
  return hr;
}

HRESULT HcsGetServiceProperties(PCWSTR propertyQuery, PWSTR *result) {
  if (result == NULL) return E_POINTER;
  *result = NULL;
  char *query8 = utf8_from_utf16(propertyQuery);
  jvalue *query = json_parse(query8[0] == 0 ? "{}" : query8);
  HRESULT hr = S_OK;
  char why[200];
  strbuf b;
  sb_init(&b);
  const jvalue *types = json_get(query, "PropertyTypes");
  if (query == NULL || query->type != J_OBJECT) {
    hr = refuse(result, HCS_E_INVALID_JSON, "the property query is not a JSON object");
  } else if (types != NULL && types->type != J_ARRAY) {
    hr = refuse(result, E_INVALIDARG, "PropertyTypes is an array of property type names");
  } else {
    sb_append(&b, "{\"Properties\":[");
    if (types == NULL || types->children == NULL) sb_append(&b, BASIC_INFORMATION); /* what a bare query asks for */
    for (const jvalue *t = types == NULL ? NULL : types->children; t != NULL && hr == S_OK; t = t->next) {
      const char *name = json_str(t);
      if (name != NULL && strcmp(name, "Basic") == 0) {
        sb_append(&b, t == types->children ? BASIC_INFORMATION : "," BASIC_INFORMATION);
      } else {
        snprintf(why, sizeof why, "service property type '%s' is not supported", name == NULL ? "" : name);
        hr = refuse(result, E_INVALIDARG, why);
      }
    }
    sb_append(&b, "]}");
    if (hr == S_OK) *result = caller_string(b.data);
  }
  free(b.data);
  json_free(query);
  free(query8);
  return hr;
}

HRESULT HcsModifyServiceSettings(PCWSTR settings, PWSTR *result) {
  if (result == NULL) return E_POINTER;
  *result = NULL;
  char *settings8 = utf8_from_utf16(settings);
  jvalue *doc = json_parse(settings8);
  /* The simulator has no service settings to change: any well-formed request is accepted and has no effect. */
  HRESULT hr = doc == NULL ? refuse(result, E_INVALIDARG, "the settings are not JSON") : S_OK;
  json_free(doc);
  free(settings8);
  return hr;
}
