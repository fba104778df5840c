/* A small JSON reader for the documents HCS receives: enough to read, never to rewrite. */
#ifndef PODVISOR_JSON_H
#define PODVISOR_JSON_H

#include <stddef.h>

typedef enum { J_NULL, J_BOOL, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT } jtype;

typedef struct jvalue jvalue;
struct jvalue {
  jtype type;
  double number;
  int boolean;
  char *string;     /* J_STRING: UTF-8 */
  char *key;        /* set when this value is an object member */
  jvalue *children; /* J_ARRAY / J_OBJECT: first child */
  jvalue *next;     /* next sibling */
};

/* NULL when the text is not one JSON value. */
jvalue *json_parse(const char *text);
void json_free(jvalue *v);
/* Member of an object, NULL when absent or v is not an object. */
const jvalue *json_get(const jvalue *v, const char *key);
/* Follows a path of members such as "Container", "Storage", NULL-terminated. */
const jvalue *json_path(const jvalue *v, ...);
const char *json_str(const jvalue *v); /* NULL unless a string */
int json_is_true(const jvalue *v);
size_t json_len(const jvalue *v);

/* Appends v as JSON text to a strbuf (text.h). */
void json_write(void *strbuf_ptr, const jvalue *v);

#endif
